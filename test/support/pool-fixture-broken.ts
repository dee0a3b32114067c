/** A handler module whose evaluation fails, for the local Lambda pool's init-failure test. */
export const handler = async (): Promise<null> => null;

throw new TypeError('missing configuration at load');
