#!/usr/bin/env node
/** The CDK app (`npx cdk synth -c stage=dev`): every stack of one stage, checked by cdk-nag. */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.js';

buildApp(new App());
