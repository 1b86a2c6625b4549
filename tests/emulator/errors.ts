// Error body shapes of Quay (github.com/quay/quay endpoints/exception.py, endpoints/csrf.py,
// endpoints/v2/errors.py; see readQuayMessage in providers/quay/client.ts). Handlers throw these; server.ts serialises them.

export type BodyStyle = "restful" | "jsonify" | "abort" | "text" | "html" | "raw";

/** Base class: any response short-circuiting a handler. */
export class HttpReply extends Error {
  constructor(
    public status: number,
    public body: unknown,
    public style: BodyStyle = "restful",
    public headers: Record<string, string> = {},
  ) {
    super(typeof body === "string" ? body : `HTTP ${status}`);
  }
}

export const ERROR_DESCRIPTION: Record<string, string> = {
  external_service_timeout: "An external service timed out. Retrying the request may resolve the issue.",
  invalid_request: "The request was invalid. It may have contained invalid values or was improperly formatted.",
  invalid_response: "The response was invalid.",
  invalid_token: "The access token provided was invalid.",
  expired_token: "The access token provided has expired.",
  insufficient_scope: "The access token did not have sufficient scope to access the requested resource.",
  fresh_login_required: "The action requires a fresh login to succeed.",
  exceeds_license: "The action was refused because the current license does not allow it.",
  not_found: "The resource was not found.",
  downstream_issue: "An error occurred in a downstream service.",
  tag_immutable: "The tag is immutable and cannot be modified or deleted.",
  token_rotation_failed: "Token rotation failed.",
};

/** A. endpoints/exception.py ApiException ("problem JSON"); `type` is filled in per request. */
export class ApiProblem extends HttpReply {
  constructor(
    public errorType: string,
    status: number,
    public detail: string | null,
    public payload: Record<string, unknown> = {},
  ) {
    super(status, null, "restful");
  }
  toBody(baseUrl: string): Record<string, unknown> {
    const rv: Record<string, unknown> = { ...this.payload };
    if (this.detail !== null) {
      rv.detail = this.detail;
      rv.error_message = this.detail;
    }
    rv.error_type = this.errorType;
    rv.title = this.errorType;
    rv.type = `${baseUrl}/api/v1/error/${this.errorType}`;
    rv.status = this.status;
    return rv;
  }
}

export const invalidRequest = (msg: string, payload?: Record<string, unknown>) => new ApiProblem("invalid_request", 400, msg, payload);
export const notFound = () => new ApiProblem("not_found", 404, "Not Found");
export const invalidToken = (msg: string, payload?: Record<string, unknown>) => new ApiProblem("invalid_token", 401, msg, payload);
export const freshLoginRequired = () => new ApiProblem("fresh_login_required", 401, "Requires fresh login");

/** B. DataModelException -> app error handler: 400 {"message": str(ex)} (flask.jsonify). */
export const modelError = (msg: string) => new HttpReply(400, { message: msg }, "jsonify");

/** C. werkzeug / flask-restful abort: {"message": description}. */
export const werkzeugAbort = (status: number, message?: string) =>
  new HttpReply(status, { message: message ?? WERKZEUG_MESSAGES[status] ?? "Error" }, "restful");

export const WERKZEUG_MESSAGES: Record<number, string> = {
  400: "The browser (or proxy) sent a request that this server could not understand.",
  403: "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server.",
  404: "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
  405: "The method is not allowed for the requested URL.",
  415: "Did not attempt to load JSON data because the request Content-Type was not 'application/json'.",
  500: "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
};

/** D. util/http.py abort: {"error": msg[ (authorized: ...)]} via json.dumps (no newline). */
export const httpAbort = (status: number, message: string, authDescription?: string | null) =>
  new HttpReply(status, { error: authDescription ? `${message} (authorized: ${authDescription})` : message }, "abort");

/** Unhandled exception (PROPAGATE_EXCEPTIONS): gunicorn's plain 500 page. */
export const internalError = (why: string) => {
  const r = new HttpReply(
    500,
    "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n",
    "html",
  );
  r.message = why;
  return r;
};

/** /v2 registry errors: {"errors":[{code, detail, message}]} via jsonify. */
export const v2Error = (status: number, code: string, message: string, detail: unknown = {}, headers: Record<string, string> = {}) =>
  new HttpReply(status, { errors: [{ code, detail, message }] }, "jsonify", headers);
