import { z } from 'zod';

/** Feature, label and entity-key names, as specs, feature views and the stage configuration spell them. */
export const fieldNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must start with a letter or _ and hold only letters, digits and _');
