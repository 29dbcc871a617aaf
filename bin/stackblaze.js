#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly, from a checkout and from an installed package
// alike. tsconfig: false keeps the caller's own tsconfig.json (a CI checkout's) out of it.
import { register } from 'tsx/esm/api';

register({ tsconfig: false });
await import('../src/cli/main.ts');
