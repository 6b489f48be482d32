// Specific mappings on the public fixtures: parameters, bodies, styles, servers, credentials,
// schemas; and documents that must be refused with a clear message.

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>

#include "openapi/fixtures.hpp"
#include "tuna/openapi.hpp"

namespace json = boost::json;

namespace tuna {
namespace {

using testing::LoadFixture;

json::object Args(std::string_view text) { return json::parse(text).as_object(); }

// The operation with this operationId (or tool name), converted with default options.
openapi::Operation Find(const openapi::Document& doc, const std::string& id) {
  auto ops = openapi::ListOperations(doc);
  EXPECT_TRUE(ops.ok()) << ops.status().ToString();
  if (ops.ok()) {
    for (auto& op : *ops) {
      if (op.operation_id == id || op.tool_name == id) return op;
    }
  }
  ADD_FAILURE() << "no operation " << id;
  return {};
}

openapi::HttpRequest Build(const openapi::Document& doc, const openapi::Operation& op, std::string_view args,
                           openapi::RequestOptions options = {}) {
  if (options.base_url.empty()) {
    auto base = openapi::ResolveBaseUrl(doc);
    EXPECT_TRUE(base.ok()) << base.status().ToString();
    options.base_url = base.value_or("");
  }
  auto req = openapi::BuildRequest(doc, op, Args(args), options);
  EXPECT_TRUE(req.ok()) << req.status().ToString();
  return req.ok() ? *req : openapi::HttpRequest{};
}

bool Contains(const json::value& v, std::string_view key) {
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      if (kv.key() == key || Contains(kv.value(), key)) return true;
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& item : *a) {
      if (Contains(item, key)) return true;
    }
  }
  return false;
}

bool ContainsText(const json::value& v, std::string_view text) {
  return json::serialize(v).find(text) != std::string::npos;
}

// ---- petstore --------------------------------------------------------------------------------

TEST(OpenApiPetstore, GetPetByIdPathParameter) {
  auto doc = LoadFixture("swagger-petstore.yaml");
  auto op = Find(doc, "getPetById");
  EXPECT_EQ(op.tool_name, "getPetById");
  EXPECT_EQ(op.method, "GET");
  ASSERT_EQ(op.parameters.size(), 1u);
  EXPECT_EQ(op.parameters[0].in, "path");
  EXPECT_EQ(op.input_schema.at("properties").at("petId").at("type"), "integer");
  EXPECT_EQ(op.input_schema.at("required"), json::array{"petId"});
  auto req = Build(doc, op, R"({"petId": 9007199254740993})");
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.url, "https://petstore3.swagger.io/api/v3/pet/9007199254740993");  // beyond 2^53, exact
  EXPECT_TRUE(req.body.empty());
  auto missing = openapi::BuildRequest(doc, op, {}, {.base_url = "http://x"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("petId"), std::string::npos);
}

TEST(OpenApiPetstore, FindByStatusAndTagsQuery) {
  auto doc = LoadFixture("swagger-petstore.yaml");
  auto req = Build(doc, Find(doc, "findPetsByStatus"), R"({"status": "sold"})");
  EXPECT_EQ(req.url, "https://petstore3.swagger.io/api/v3/pet/findByStatus?status=sold");
  auto tags = Build(doc, Find(doc, "findPetsByTags"), R"({"tags": ["a b", "c&d"]})");
  EXPECT_EQ(tags.url, "https://petstore3.swagger.io/api/v3/pet/findByTags?tags=a%20b&tags=c%26d");
  auto status_schema = Find(doc, "findPetsByStatus").input_schema.at("properties").at("status");
  EXPECT_EQ(status_schema.at("enum"), json::parse(R"(["available","pending","sold"])"));
}

TEST(OpenApiPetstore, AddPetJsonBodyIsFlattened) {
  auto doc = LoadFixture("swagger-petstore.yaml");
  auto op = Find(doc, "addPet");
  ASSERT_TRUE(op.body);
  EXPECT_EQ(op.body->content_type, "application/json");  // preferred over XML and form
  EXPECT_TRUE(op.body->flattened);
  const auto& props = op.input_schema.at("properties").as_object();
  EXPECT_TRUE(props.contains("name"));
  EXPECT_TRUE(props.contains("photoUrls"));
  EXPECT_EQ(props.at("category").at("properties").at("name").at("type"), "string");  // Category inlined
  EXPECT_EQ(op.input_schema.at("required"), json::parse(R"(["name","photoUrls"])"));
  auto req = Build(doc, op, R"({"name": "doggie", "photoUrls": ["u"], "status": "available"})");
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "https://petstore3.swagger.io/api/v3/pet");
  EXPECT_EQ(req.Header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(req.body), json::parse(R"({"name":"doggie","photoUrls":["u"],"status":"available"})"));
}

TEST(OpenApiPetstore, ApiKeyHeaderParameterAndCredential) {
  auto doc = LoadFixture("swagger-petstore.yaml");
  auto op = Find(doc, "deletePet");
  auto req = Build(doc, op, R"({"petId": 7, "api_key": "from-argument"})");
  EXPECT_EQ(req.method, "DELETE");
  EXPECT_EQ(req.url, "https://petstore3.swagger.io/api/v3/pet/7");
  EXPECT_EQ(req.Header("api_key"), "from-argument");
  // A configured apiKey credential lands where the securityScheme says, and wins over the argument.
  openapi::RequestOptions options;
  options.credential = openapi::Credential{CredentialType::kApiKey, "s3cret", "", ""};
  auto with_key = Build(doc, op, R"({"petId": 7, "api_key": "from-argument"})", options);
  EXPECT_EQ(with_key.Header("api_key"), "s3cret");
  int count = 0;
  for (const auto& h : with_key.headers) count += h.first == "api_key";
  EXPECT_EQ(count, 1);
}

TEST(OpenApiPetstore, BodyPropertyCollidingWithPathParameterIsWrapped) {
  auto doc = LoadFixture("swagger-petstore.yaml");
  auto op = Find(doc, "updateUser");  // PUT /user/{username}, body User has `username` too
  ASSERT_TRUE(op.body);
  EXPECT_FALSE(op.body->flattened);
  EXPECT_EQ(op.body->argument, "body");
  auto req = Build(doc, op, R"({"username": "ann", "body": {"username": "ann2", "email": "a@b"}})");
  EXPECT_EQ(req.url, "https://petstore3.swagger.io/api/v3/user/ann");
  EXPECT_EQ(json::parse(req.body), json::parse(R"({"username":"ann2","email":"a@b"})"));
  // The octet-stream upload takes its body as text.
  auto upload = Find(doc, "uploadFile");
  ASSERT_TRUE(upload.body);
  EXPECT_EQ(upload.body->content_type, "application/octet-stream");
  auto up = Build(doc, upload, R"({"petId": 1, "additionalMetadata": "m", "body": "RAW"})");
  EXPECT_EQ(up.url, "https://petstore3.swagger.io/api/v3/pet/1/uploadImage?additionalMetadata=m");
  EXPECT_EQ(up.body, "RAW");
  EXPECT_EQ(up.Header("Content-Type"), "application/octet-stream");
}

// ---- parameter styles (readme-parameters-style.yaml vs the OpenAPI style examples) --------------

struct StyleCase {
  std::string operation;
  std::string args;
  std::string url;  // after https://httpbin.org
};

TEST(OpenApiParameterStyles, PathAndQueryMatchTheSpecExamples) {
  auto doc = LoadFixture("readme-parameters-style.yaml");
  // The spec's example values: color = "blue", ["blue","black","brown"], {"R":100,"G":200,"B":150}.
  const std::string prim = R"("primitive": "blue")";
  const std::string arr = R"("array": ["blue","black","brown"])";
  const std::string obj = R"("object": {"R": 100, "G": 200, "B": 150})";
  const std::string all = "{" + prim + "," + arr + "," + obj + "}";
  const StyleCase cases[] = {
      {"paths_standard", all, "/anything/path/blue/blue,black,brown/R,100,G,200,B,150"},
      {"paths_simple_nonExploded", all, "/anything/path/simple/blue/blue,black,brown/R,100,G,200,B,150"},
      {"paths_simple_exploded", all, "/anything/path/simple/blue/blue,black,brown/R=100,G=200,B=150"},
      {"paths_matrix_nonExploded", all,
       "/anything/path/matrix/;primitive=blue/;array=blue,black,brown/;object=R,100,G,200,B,150"},
      {"paths_matrix_exploded", all,
       "/anything/path/matrix/;primitive=blue/;array=blue;array=black;array=brown/;R=100;G=200;B=150"},
      {"paths_label_nonExploded", all, "/anything/path/label/.blue/.blue,black,brown/.R,100,G,200,B,150"},
      {"paths_label_exploded", all, "/anything/path/label/.blue/.blue.black.brown/.R=100.G=200.B=150"},
      {"query_standard", all, "/anything/query?primitive=blue&array=blue&array=black&array=brown&R=100&G=200&B=150"},
      {"query_form_nonExploded", all,
       "/anything/query/form?primitive=blue&array=blue,black,brown&object=R,100,G,200,B,150"},
      {"query_form_exploded", all,
       "/anything/query/form?primitive=blue&array=blue&array=black&array=brown&R=100&G=200&B=150"},
      {"query_spaceDelimited_nonExploded", "{" + arr + "," + obj + "}",
       "/anything/query/spaceDelimited?array=blue%20black%20brown&object=R%20100%20G%20200%20B%20150"},
      {"query_pipeDelimited_nonExploded", "{" + arr + "," + obj + "}",
       "/anything/query/pipeDelimited?array=blue|black|brown&object=R|100|G|200|B|150"},
      {"query_deepObject_nonExploded", "{" + obj + "}",
       "/anything/query/deepObject?object[R]=100&object[G]=200&object[B]=150"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.operation);
    auto req = Build(doc, Find(doc, c.operation), c.args);
    EXPECT_EQ(req.url, std::string("https://httpbin.org") + c.url);
  }
  // Empty values: matrix ";name", label ".", form "name=".
  auto matrix = Build(doc, Find(doc, "paths_matrix_nonExploded"), R"({"primitive":"","array":["x"],"object":{"a":1}})");
  EXPECT_EQ(matrix.url, "https://httpbin.org/anything/path/matrix/;primitive/;array=x/;object=a,1");
  auto label = Build(doc, Find(doc, "paths_label_nonExploded"), R"({"primitive":"","array":["x"],"object":{"a":1}})");
  EXPECT_EQ(label.url, "https://httpbin.org/anything/path/label/./.x/.a,1");
  auto form = Build(doc, Find(doc, "query_form_nonExploded"), R"({"primitive":""})");
  EXPECT_EQ(form.url, "https://httpbin.org/anything/query/form?primitive=");
  // Reserved characters are percent-encoded in values.
  auto enc = Build(doc, Find(doc, "paths_standard"), R"({"primitive":"a/b c","array":["x,y"],"object":{"k":"v"}})");
  EXPECT_EQ(enc.url, "https://httpbin.org/anything/path/a%2Fb%20c/x%2Cy/k,v");
}

TEST(OpenApiParameterStyles, HeadersAndCookies) {
  auto doc = LoadFixture("readme-parameters-style.yaml");
  const std::string all = R"({"primitive":"blue","array":["blue","black","brown"],"object":{"R":100,"G":200,"B":150}})";
  auto simple = Build(doc, Find(doc, "headers_simple_nonExploded"), all);
  EXPECT_EQ(simple.Header("primitive"), "blue");
  EXPECT_EQ(simple.Header("array"), "blue,black,brown");
  EXPECT_EQ(simple.Header("object"), "R,100,G,200,B,150");
  auto exploded = Build(doc, Find(doc, "headers_simple_exploded"), all);
  EXPECT_EQ(exploded.Header("array"), "blue,black,brown");
  EXPECT_EQ(exploded.Header("object"), "R=100,G=200,B=150");
  auto standard = Build(doc, Find(doc, "headers_standard"), all);
  EXPECT_EQ(standard.Header("object"), "R,100,G,200,B,150");

  auto cookies = Build(doc, Find(doc, "cookies_form_nonExploded"), all);
  EXPECT_EQ(cookies.url, "https://httpbin.org/cookies");  // the "#formNonExploded" key suffix is not sent
  EXPECT_EQ(cookies.Header("Cookie"), "primitive=blue; array=blue,black,brown; object=R,100,G,200,B,150");
  auto cookies_x = Build(doc, Find(doc, "cookies_form_exploded"), all);
  EXPECT_EQ(cookies_x.url, "https://httpbin.org/cookies");
  EXPECT_EQ(cookies_x.Header("Cookie"), "primitive=blue; array=blue; array=black; array=brown; R=100; G=200; B=150");
  auto cookies_std = Build(doc, Find(doc, "cookies_standard"), R"({"primitive":"a b;c"})");
  EXPECT_EQ(cookies_std.Header("Cookie"), "primitive=a%20b%3Bc");
}

TEST(OpenApiParameterStyles, MultipartAndFormBodies) {
  auto doc = LoadFixture("readme-parameters-style.yaml");
  auto op = Find(doc, "formData_form_nonExploded");
  ASSERT_TRUE(op.body);
  EXPECT_EQ(op.body->content_type, "multipart/form-data");
  EXPECT_TRUE(op.body->flattened);
  auto req = Build(doc, op, R"({"primitive":"p","array":["a","b"],"object":{"foo":"f"}})");
  std::string ct = req.Header("Content-Type");
  ASSERT_EQ(ct.rfind("multipart/form-data; boundary=", 0), 0u) << ct;
  std::string boundary = ct.substr(ct.find('=') + 1);
  EXPECT_EQ(req.body, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"primitive\"\r\n\r\np\r\n" +
                          "--" + boundary + "\r\nContent-Disposition: form-data; name=\"array\"\r\n\r\na\r\n" +
                          "--" + boundary + "\r\nContent-Disposition: form-data; name=\"array\"\r\n\r\nb\r\n" +
                          "--" + boundary + "\r\nContent-Disposition: form-data; name=\"object\"\r\n" +
                          "Content-Type: application/json\r\n\r\n{\"foo\":\"f\"}\r\n--" + boundary + "--\r\n");
}

// ---- servers -----------------------------------------------------------------------------------

TEST(OpenApiServers, GalaxyServerVariablesAndRelativeUrls) {
  auto doc = LoadFixture("scalar-galaxy.yaml");
  EXPECT_EQ(openapi::ResolveBaseUrl(doc).value_or("?"), "https://galaxy.scalar.com");
  // {protocol}://void.scalar.com/{path} with protocol=https (enum default) and path=''.
  EXPECT_EQ(openapi::ResolveBaseUrl(doc, "", 1).value_or("?"), "https://void.scalar.com");
  EXPECT_EQ(openapi::ResolveBaseUrl(doc, "http://override:1/x/").value_or("?"), "http://override:1/x");
  EXPECT_FALSE(openapi::ResolveBaseUrl(doc, "", 2).ok());
  // A derived variant: other defaults.
  json::value root = doc.root;
  auto& vars = root.at("servers").as_array()[1].at("variables").as_object();
  vars["protocol"].as_object()["default"] = "http";
  vars["path"].as_object()["default"] = "v2/api";
  auto variant = openapi::DocumentFromJson(root, "galaxy-variant");
  ASSERT_TRUE(variant.ok());
  EXPECT_EQ(openapi::ResolveBaseUrl(*variant, "", 1).value_or("?"), "http://void.scalar.com/v2/api");

  // Relative server URLs resolve against the document's URL; without one they are an error.
  json::value rel = doc.root;
  rel.as_object()["servers"] = json::parse(R"([{"url": "/api/v3"}])");
  auto no_url = openapi::DocumentFromJson(rel, "rel");
  ASSERT_TRUE(no_url.ok());
  auto err = openapi::ResolveBaseUrl(*no_url);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("baseUrl"), std::string::npos);
  auto with_url = openapi::DocumentFromJson(rel, "rel", "https://docs.example.com/specs/openapi.yaml");
  EXPECT_EQ(openapi::ResolveBaseUrl(*with_url).value_or("?"), "https://docs.example.com/api/v3");
  rel.as_object()["servers"] = json::parse(R"([{"url": "v1"}])");
  auto sibling = openapi::DocumentFromJson(rel, "rel", "https://docs.example.com/specs/openapi.yaml");
  EXPECT_EQ(openapi::ResolveBaseUrl(*sibling).value_or("?"), "https://docs.example.com/specs/v1");
  // Kratos has no servers at all.
  auto kratos = LoadFixture("ory-kratos.json");
  EXPECT_EQ(openapi::ResolveBaseUrl(kratos).status().code(), StatusCode::kFailedPrecondition);
}

TEST(OpenApiServers, GalaxyCredentialsFollowSecuritySchemes) {
  auto doc = LoadFixture("scalar-galaxy.yaml");
  auto me = Find(doc, "getMe");
  openapi::RequestOptions query_key;
  query_key.credential = openapi::Credential{CredentialType::kApiKey, "k 1", "", "apiKeyQuery"};
  EXPECT_EQ(Build(doc, me, "{}", query_key).url, "https://galaxy.scalar.com/me?api_key=k%201");
  openapi::RequestOptions cookie_key;
  cookie_key.credential = openapi::Credential{CredentialType::kApiKey, "k2", "", "apiKeyCookie"};
  EXPECT_EQ(Build(doc, me, "{}", cookie_key).Header("Cookie"), "api_key=k2");
  openapi::RequestOptions any_key;  // no scheme named: the first apiKey the operation accepts
  any_key.credential = openapi::Credential{CredentialType::kApiKey, "k3", "", ""};
  EXPECT_EQ(Build(doc, me, "{}", any_key).Header("X-API-Key"), "k3");
  openapi::RequestOptions named_header;
  named_header.credential = openapi::Credential{CredentialType::kApiKey, "k4", "X-Custom", ""};
  EXPECT_EQ(Build(doc, me, "{}", named_header).Header("X-Custom"), "k4");
  openapi::RequestOptions basic;
  basic.credential = openapi::Credential{CredentialType::kBasic, "user:pa ss", "", ""};
  EXPECT_EQ(Build(doc, me, "{}", basic).Header("Authorization"), "Basic dXNlcjpwYSBzcw==");
  openapi::RequestOptions bearer;
  bearer.credential = openapi::Credential{CredentialType::kBearer, "tok", "", ""};
  EXPECT_EQ(Build(doc, me, "{}", bearer).Header("Authorization"), "Bearer tok");
  // `security: []` on getAllData: anonymous, no credential sent.
  auto all = Build(doc, Find(doc, "getAllData"), R"({"limit": 5})", bearer);
  EXPECT_EQ(all.Header("Authorization"), "");
  EXPECT_EQ(all.url, "https://galaxy.scalar.com/planets?limit=5");
}

TEST(OpenApiServers, GalaxyComponentsParametersRecursionAndReadOnly) {
  auto doc = LoadFixture("scalar-galaxy.yaml");
  auto create = Find(doc, "createPlanet");
  EXPECT_FALSE(ContainsText(create.input_schema, "$ref"));
  EXPECT_TRUE(ContainsText(create.input_schema, "(recursive, not expanded)"));  // Planet <-> Satellite
  // readOnly `id` is not an input.
  ASSERT_TRUE(create.body);
  if (create.body->flattened) {
    EXPECT_FALSE(create.input_schema.at("properties").as_object().contains("id"));
  }
  auto get = Find(doc, "getPlanet");  // parameters from #/components/parameters
  ASSERT_EQ(get.parameters.size(), 1u);
  EXPECT_EQ(get.parameters[0].name, "planetId");
  // Webhooks and callbacks are not tools.
  for (const auto& op : openapi::ListOperations(doc).value_or({})) EXPECT_NE(op.path.find('/'), std::string::npos);
}

// ---- keycloak ----------------------------------------------------------------------------------

TEST(OpenApiKeycloak, PathPrefixRootPathAndStringBodies) {
  auto doc = LoadFixture("keycloak-admin-23.0.7.yaml");
  EXPECT_EQ(openapi::ResolveBaseUrl(doc).value_or("?"), "https://keycloak.example.com/admin/realms");
  auto root = Build(doc, Find(doc, "get"), R"({"briefRepresentation": true})");
  EXPECT_EQ(root.url, "https://keycloak.example.com/admin/realms/?briefRepresentation=true");
  auto copy = Find(doc, "postCopy");  // body typed `string`
  ASSERT_TRUE(copy.body);
  EXPECT_FALSE(copy.body->flattened);
  EXPECT_EQ(copy.input_schema.at("properties").at("body").at("type"), "string");
  auto req = Build(doc, copy, R"({"realm": "master", "flowAlias": "browser flow", "body": "{\"newName\":\"x\"}"})");
  EXPECT_EQ(req.url, "https://keycloak.example.com/admin/realms/master/authentication/flows/browser%20flow/copy");
  EXPECT_EQ(req.body, R"("{\"newName\":\"x\"}")");  // a JSON string
  // PUT /{realm}: `realm` is a path parameter and a body property -> the body is wrapped.
  for (const auto& op : openapi::ListOperations(doc).value_or({})) {
    if (op.method == "PUT" && op.path == "/{realm}") {
      ASSERT_TRUE(op.body);
      EXPECT_FALSE(op.body->flattened);
      EXPECT_EQ(op.body->argument, "body");
    }
    if (op.body && op.body->flattened) {
      for (const auto& p : op.parameters) EXPECT_FALSE(op.body->schema.at("properties").as_object().contains(p.argument));
    }
  }
  // Recursive GroupRepresentation is cut, not expanded forever.
  bool cut = false;
  for (const auto& op : openapi::ListOperations(doc).value_or({})) cut = cut || ContainsText(op.input_schema, "GroupRepresentation (recursive");
  EXPECT_TRUE(cut);
}

// ---- kratos ------------------------------------------------------------------------------------

TEST(OpenApiKratos, OneOfBodiesAndNullable) {
  auto doc = LoadFixture("ory-kratos.json");
  auto login = Find(doc, "updateLoginFlow");
  ASSERT_TRUE(login.body);
  EXPECT_EQ(login.body->content_type, "application/json");  // over form-urlencoded
  EXPECT_FALSE(login.body->flattened);                      // a oneOf cannot be flattened
  const auto& body = login.input_schema.at("properties").at("body").as_object();
  ASSERT_TRUE(body.contains("oneOf"));
  EXPECT_GE(body.at("oneOf").as_array().size(), 2u);
  EXPECT_FALSE(Contains(login.input_schema, "discriminator"));
  // `nullable: true` became type arrays everywhere; no OpenAPI-only keyword is left.
  bool null_type = false;
  for (const auto& op : openapi::ListOperations(doc).value_or({})) {
    EXPECT_FALSE(Contains(op.input_schema, "nullable")) << op.tool_name;
    null_type = null_type || ContainsText(op.input_schema, R"(,"null"])");
  }
  EXPECT_TRUE(null_type);
  openapi::ConvertOptions options;
  auto nullable = openapi::ResolveSchema(doc, json::parse(R"({"$ref": "#/components/schemas/NullTime"})"), options);
  ASSERT_TRUE(nullable.ok());
  EXPECT_EQ(nullable->at("type"), json::parse(R"(["string","null"])"));
  // Header parameters with non-identifier names; the body is sent as JSON.
  auto req = Build(doc, login, R"({"flow": "f1", "X-Session-Token": "tok", "body": {"method": "password", "identifier": "a", "password": "b"}})",
                   {.base_url = "https://kratos.example.com"});
  EXPECT_EQ(req.url, "https://kratos.example.com/self-service/login?flow=f1");
  EXPECT_EQ(req.Header("X-Session-Token"), "tok");
  EXPECT_EQ(json::parse(req.body).at("method"), "password");
}

// ---- polymorphism and star-trek (no operationIds) ----------------------------------------------

TEST(OpenApiPolymorphism, RequestBodyRefsAndDerivedNames) {
  auto doc = LoadFixture("readme-polymorphism.yaml");
  auto ops = openapi::ListOperations(doc);
  ASSERT_TRUE(ops.ok());
  auto op = Find(doc, "post_anything_nested-one-of-ref");  // #/components/requestBodies/nested-one-of-ref
  ASSERT_TRUE(op.body);
  EXPECT_TRUE(op.body->required);
  EXPECT_TRUE(op.body->flattened);
  const auto& config = op.input_schema.at("properties").at("config").as_object();
  ASSERT_TRUE(config.contains("oneOf"));
  EXPECT_FALSE(Contains(op.input_schema, "$ref"));
  auto req = Build(doc, op, R"({"config": "s"})");
  EXPECT_EQ(req.url, "https://httpbin.org/anything/nested-one-of-ref");
  EXPECT_EQ(req.body, R"({"config":"s"})");
  auto primitive = Find(doc, "post_anything_any-of-primitive");
  ASSERT_TRUE(primitive.body);
  EXPECT_FALSE(primitive.body->flattened);
  EXPECT_EQ(Build(doc, primitive, R"({"body": 12})").body, "12");
  EXPECT_EQ(Find(doc, "patch_pets").method, "PATCH");
}

TEST(OpenApiStarTrek, GetAndPostOnOnePathGetDistinctNames) {
  auto doc = LoadFixture("readme-star-trek.yaml");
  auto get = Find(doc, "get_animal_search");
  auto post = Find(doc, "post_animal_search");
  EXPECT_EQ(get.method, "GET");
  EXPECT_EQ(post.method, "POST");
  ASSERT_TRUE(post.body);
  EXPECT_EQ(post.body->content_type, "application/x-www-form-urlencoded");
  auto req = Build(doc, post, R"({"apiKey": "k", "pageNumber": 2, "name": "Tribble cat", "earthAnimal": true})");
  EXPECT_EQ(req.url, "http://stapi.co/api/v1/rest/animal/search?pageNumber=2&apiKey=k");
  EXPECT_EQ(req.Header("Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(req.body, "name=Tribble%20cat&earthAnimal=true");
}

// ---- allowlist, names, refs --------------------------------------------------------------------

TEST(OpenApiAllowlist, ByOperationIdOrMethodAndPath) {
  auto doc = LoadFixture("swagger-petstore.yaml");
  openapi::ConvertOptions options;
  options.operations = {"getPetById", "post /pet", "DELETE /user/{username}"};
  auto ops = openapi::ListOperations(doc, options);
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  ASSERT_EQ(ops->size(), 3u);
  EXPECT_EQ((*ops)[0].tool_name, "addPet");
  EXPECT_EQ((*ops)[1].tool_name, "getPetById");
  EXPECT_EQ((*ops)[2].tool_name, "deleteUser");
  options.operations = {"getPetById", "nope", "GET /missing"};
  auto bad = openapi::ListOperations(doc, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"nope\", \"GET /missing\""), std::string::npos) << bad.status().message();
}

openapi::Document Synthetic(std::string_view yaml) {
  auto doc = openapi::LoadDocument(yaml, "synthetic.yaml");
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return doc.ok() ? *doc : openapi::Document{};
}

TEST(OpenApiNames, SanitizedDeduplicatedAndBounded) {
  std::string long_id(200, 'a');
  auto doc = Synthetic(R"(openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /a:
    get: {operationId: "list pets!", responses: {"200": {description: ok}}}
    post: {operationId: "list_pets", responses: {"200": {description: ok}}}
    put: {operationId: ")" + long_id + R"(", responses: {"200": {description: ok}}}
    patch: {operationId: ")" + long_id + R"(", responses: {"200": {description: ok}}}
  /users/{id}/x.json:
    delete: {responses: {"200": {description: ok}}}
)");
  auto ops = openapi::ListOperations(doc);
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  ASSERT_EQ(ops->size(), 5u);
  EXPECT_EQ((*ops)[0].tool_name, "list_pets");
  EXPECT_EQ((*ops)[1].tool_name, "list_pets_2");
  EXPECT_LE((*ops)[2].tool_name.size(), 128u);
  EXPECT_LE((*ops)[3].tool_name.size(), 128u);
  EXPECT_NE((*ops)[2].tool_name, (*ops)[3].tool_name);
  EXPECT_EQ((*ops)[4].tool_name, "delete_users_id_x.json");
  EXPECT_EQ((*ops)[4].description, "DELETE /users/{id}/x.json");
}

TEST(OpenApiRefs, JsonPointerEscapesAndCycles) {
  auto doc = Synthetic(R"(openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /x:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/a~1b"}
      responses: {"200": {description: ok}}
components:
  schemas:
    a/b:
      type: object
      properties:
        tilde: {$ref: "#/components/schemas/c~0d"}
        pct: {$ref: "#/components/schemas/with%20space"}
        self: {$ref: "#/components/schemas/a~1b", description: sibling applies in 3.1}
    c~d: {type: integer, example: 3}
    with space: {type: string, nullable: true}
)");
  auto op = Find(doc, "post_x");
  const auto& props = op.input_schema.at("properties").as_object();
  EXPECT_EQ(props.at("tilde"), json::parse(R"({"type":"integer","examples":[3]})"));
  EXPECT_EQ(props.at("pct").at("type"), json::parse(R"(["string","null"])"));
  EXPECT_EQ(props.at("self").at("description"), "sibling applies in 3.1");
  EXPECT_FALSE(Contains(op.input_schema, "$ref"));
}

// ---- documents that are refused ----------------------------------------------------------------

TEST(OpenApiBadDocuments, ClearErrors) {
  auto not_openapi = openapi::LoadDocument(R"({"hello": "world"})", "x.json");
  ASSERT_FALSE(not_openapi.ok());
  EXPECT_NE(not_openapi.status().message().find("not an OpenAPI document"), std::string::npos);

  auto swagger = openapi::LoadDocument("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", "old.yaml");
  ASSERT_FALSE(swagger.ok());
  EXPECT_NE(swagger.status().message().find("2.0"), std::string::npos);

  auto future = openapi::LoadDocument("openapi: 4.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n", "new.yaml");
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().message().find("4.0.0"), std::string::npos);

  auto yaml = openapi::LoadDocument("openapi: 3.1.0\ninfo:\n  title: [unclosed\npaths: {}\n", "broken.yaml");
  ASSERT_FALSE(yaml.ok());
  EXPECT_NE(yaml.status().message().find("broken.yaml:"), std::string::npos) << yaml.status().message();
  EXPECT_NE(yaml.status().message().find(":4:"), std::string::npos) << yaml.status().message();

  auto json_err = openapi::LoadDocument("{\n  \"openapi\": \"3.1.0\",\n  oops\n}", "broken.json");
  ASSERT_FALSE(json_err.ok());
  EXPECT_NE(json_err.status().message().find("broken.json"), std::string::npos) << json_err.status().message();

  auto broken_ref = Synthetic(R"(openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
      parameters:
        - name: q
          in: query
          schema: {$ref: "#/components/schemas/Missing"}
      responses: {"200": {description: ok}}
components: {schemas: {}}
)");
  auto ops = openapi::ListOperations(broken_ref);
  ASSERT_FALSE(ops.ok());
  EXPECT_NE(ops.status().message().find("#/components/schemas/Missing"), std::string::npos) << ops.status().message();
  EXPECT_NE(ops.status().message().find("GET /x"), std::string::npos) << ops.status().message();

  auto external = Synthetic(R"(openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
      parameters:
        - $ref: "./common.yaml#/components/parameters/q"
      responses: {"200": {description: ok}}
)");
  auto ext = openapi::ListOperations(external);
  ASSERT_FALSE(ext.ok());
  EXPECT_NE(ext.status().message().find("./common.yaml#/components/parameters/q"), std::string::npos);
  EXPECT_NE(ext.status().message().find("outside the document"), std::string::npos);
  EXPECT_NE(ext.status().message().find("GET /x"), std::string::npos) << ext.status().message();
}

}  // namespace
}  // namespace tuna
