#include "net/status_response.hpp"

#include <boost/json.hpp>

namespace tuna::net {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 422;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kConflict: return 409;
    case StatusCode::kGone: return 410;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kFailedPrecondition: return 412;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kCancelled: return 499;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

StatusCode StatusCodeForHttp(int http_status) {
  switch (http_status) {
    case 400: case 405: case 415: case 422: return StatusCode::kInvalidArgument;
    case 401: return StatusCode::kUnauthenticated;
    case 403: return StatusCode::kPermissionDenied;
    case 404: return StatusCode::kNotFound;
    case 408: case 504: return StatusCode::kDeadlineExceeded;
    case 409: return StatusCode::kConflict;
    case 410: return StatusCode::kGone;
    case 412: return StatusCode::kFailedPrecondition;
    case 413: case 429: case 431: return StatusCode::kResourceExhausted;
    case 501: return StatusCode::kUnimplemented;
    case 503: return StatusCode::kUnavailable;
    default: return http_status >= 500 ? StatusCode::kInternal : StatusCode::kInvalidArgument;
  }
}

std::string_view ReasonFor(int http_status, StatusCode code) {
  switch (http_status) {
    case 400: return "BadRequest";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 408: return "Timeout";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 431: return "RequestHeaderFieldsTooLarge";
    default: return StatusCodeReason(code);
  }
}

std::string StatusBodyJson(int http_status, const Status& status, std::string_view request_id) {
  boost::json::object o;
  o["apiVersion"] = "v1";
  o["kind"] = "Status";
  o["metadata"] = boost::json::object();
  o["status"] = "Failure";
  o["code"] = http_status;
  o["reason"] = ReasonFor(http_status, status.code());
  o["message"] = status.message();
  if (!status.field().empty()) {
    o["field"] = status.field();
    // The Kubernetes form, so generic Kubernetes clients find the field too.
    boost::json::object cause;
    cause["reason"] = "FieldValueInvalid";
    cause["message"] = status.message();
    cause["field"] = status.field();
    boost::json::object details;
    details["causes"] = boost::json::array{std::move(cause)};
    o["details"] = std::move(details);
  }
  if (!request_id.empty()) o["requestId"] = request_id;
  return boost::json::serialize(o);
}

HttpResponse StatusResponse(int http_status, const Status& status, std::string_view request_id) {
  HttpResponse r;
  r.status = http_status;
  r.content_type = "application/json";
  r.body = StatusBodyJson(http_status, status, request_id);
  if (http_status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

HttpResponse StatusResponse(const Status& status, std::string_view request_id) {
  return StatusResponse(HttpStatusFor(status.code()), status, request_id);
}

}  // namespace tuna::net
