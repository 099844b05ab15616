// JetStream API errors as they appear on the wire:
//   "error": {"code": <http-ish>, "err_code": <JS code>, "description": "<text>"}
// The table lives in errors-table.ts; this module builds instances from it.

import { JS_ERRORS, type JSErrorName } from './errors-table.js';

export { JS_ERRORS, type JSErrorName } from './errors-table.js';

/** One API error. Thrown by validation and stream code, turned into JSON by the API layer. */
export class ApiError extends Error {
  readonly code: number;
  readonly errCode: number;
  readonly description: string;

  constructor(code: number, errCode: number, description: string) {
    super(description);
    this.code = code;
    this.errCode = errCode;
    this.description = description;
  }

  toJSON(): { code: number; err_code: number; description: string } {
    return { code: this.code, err_code: this.errCode, description: this.description };
  }

  is(name: JSErrorName): boolean {
    return this.errCode === JS_ERRORS[name][1];
  }
}

/**
 * Build the error `name`; `{placeholders}` in its template are filled from `params`
 * (e.g. jsErr('StreamWrongLastSequence', { seq: 4 })). Templates that are just "{err}"
 * take the detail text directly.
 */
export function jsErr(name: JSErrorName, params?: Record<string, string | number | bigint>): ApiError {
  const [code, errCode, template] = JS_ERRORS[name];
  let text: string = template;
  if (template.includes('{')) {
    text = template.replace(/\{(\w+)\}/g, (whole, key: string) => {
      const v = params?.[key];
      return v === undefined ? whole : String(v);
    });
  }
  return new ApiError(code, errCode, text);
}

/** Shorthand for the "{err}" family: jsErrText('StreamInvalidConfig', 'max age needs to be >= 100ms'). */
export function jsErrText(name: JSErrorName, err: string): ApiError {
  return jsErr(name, { err });
}

/**
 * nats-server's Unless(err): wrap a failure in `name` unless it already is an ApiError,
 * in which case it keeps its own code (e.g. a create that fails validation answers 10052,
 * not 10049).
 */
export function unlessApiError(name: JSErrorName, err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return jsErrText(name, publicErrorText(err));
}

/**
 * The text of an internal failure as an API client may see it. A Node file-system error
 * ("ENAMETOOLONG: name too long, mkdir '/var/lib/.../obs/X'") becomes its plain reason
 * ("name too long"): store paths are the operator's business, not the requester's.
 * Any other absolute path in a message is cut out too.
 */
export function publicErrorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const sys = err as { code?: unknown; syscall?: unknown };
  if (typeof sys?.code === 'string' && typeof sys.syscall === 'string') {
    const m = /^[A-Z0-9_]+: ([^,]*)/.exec(msg);
    return m ? m[1]! : sys.code;
  }
  return msg.replace(/'\/[^']*'|"\/[^"]*"|(^|\s)\/[^\s:,]+/g, (_m, lead?: string) => `${lead ?? ''}<path>`);
}
