/** The error class of `camel-oci push` (packing inputs, writing layouts, uploading). */
import { CamelOciError } from '../base/errors.js';

/** Errors decided in `src/push/`: inputs refused, limits passed, layouts that cannot be written. */
export class PushError extends CamelOciError {}
