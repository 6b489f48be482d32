#pragma once
// The one place where tuna's StatusCode becomes an HTTP status, and the Kubernetes-style
// `Status` error body every HTTP error carries.

#include <string>
#include <string_view>

#include "net/http_types.hpp"
#include "tuna/status.hpp"

namespace tuna::net {

/// StatusCode -> HTTP status (docs/api.md "Errors").
int HttpStatusFor(StatusCode code);

/// The Kubernetes `reason` for an HTTP status produced by the transport or router (413, 431, 408,
/// 405, 415, 400); for other statuses, StatusCodeReason of `code`.
std::string_view ReasonFor(int http_status, StatusCode code);

/// {"apiVersion":"v1","kind":"Status","status":"Failure","code":N,"reason":..,"message":..,
///  "field":..,"requestId":..,"details":{"causes":[..]}} as compact JSON text.
std::string StatusBodyJson(int http_status, const Status& status, std::string_view request_id);

/// A JSON error response for `status` with its mapped HTTP code.
HttpResponse StatusResponse(const Status& status, std::string_view request_id);
/// A JSON error response with an explicit HTTP code (413, 431, 400 for syntax errors...).
HttpResponse StatusResponse(int http_status, const Status& status, std::string_view request_id);

/// The StatusCode that best describes an HTTP status (for transport errors built from a code).
StatusCode StatusCodeForHttp(int http_status);

}  // namespace tuna::net
