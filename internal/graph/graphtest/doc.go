// Package graphtest is a faithful emulator of the parts of Microsoft Graph and the Microsoft
// Entra ID token endpoint that the photo pipeline uses, for tests (New, on httptest) and for the
// local stack (Listen, run by cmd/graphemu). It is written from Graph's public contract
// (docs/graph-photo-api.md, docs/architecture.md §2) and rejects what the real services reject.
//
// # Transport
//
// The emulator serves HTTPS only: MSAL Go refuses an authority that is not https. Each server
// makes its own CA and a certificate for 127.0.0.1, ::1, localhost and Options.Hosts. Tests use
// Server.Client (trusts the CA); another process trusts CAPEM via SSL_CERT_FILE (Server.WriteCA).
// Server.IssueCertificate signs certificates for other local servers with the same CA, so one
// CA file serves a whole local stack.
// One origin serves both roles: Graph at URL/v1.0 and the authority at URL/{tenant}.
//
// # Entra ID
//
//   - GET /{tenant}/v2.0/.well-known/openid-configuration: issuer, authorization_endpoint and
//     token_endpoint on the host the client used (MSAL checks the issuer's host); an unknown
//     tenant gets 400 invalid_tenant AADSTS90002. Tenants match by id or domain, case-insensitively.
//   - GET /common/discovery/instance: instance discovery metadata (MSAL calls it only with
//     instance discovery on, which clients of the emulator turn off).
//   - POST /{tenant}/oauth2/v2.0/token: the client credentials grant with client_secret, or with a
//     client_assertion JWT signed PS256 (or RS256) by a certificate registered on the app, found by
//     its x5t#S256 (standard or URL base64, as MSAL sends it) or x5t thumbprint, with aud = this
//     token endpoint, iss = sub = client id and nbf/exp within 5 minutes of skew. The scope must
//     be one {resource}/.default (openid, profile and offline_access are ignored) for a Graph
//     resource. Errors use Entra's body ({"error","error_description":"AADSTS…","error_codes"…}):
//     unknown app 400 unauthorized_client AADSTS700016, wrong secret 401 invalid_client
//     AADSTS7000215, bad assertion 401 invalid_client AADSTS700027/700023/700021/700024, bad
//     scope 400 invalid_scope AADSTS1002012 or invalid_resource AADSTS500011. Tokens are opaque
//     random strings with expires_in (Options.TokenLifetime, default 3599 s).
//
// # Graph (/v1.0)
//
// Every call needs a live bearer token for the Graph resource, else 401 InvalidAuthenticationToken.
// Objects come from the seeded directory: users (by id or UPN, case-insensitive, also
// users('$upn'); a bare users/$… segment is 400 as in Graph), groups (Unified or security) and
// users' contacts (optionally addressed through their contact folder). /me answers 400
// "/me request is only valid with delegated authentication flow." for app-only tokens
// (IssueDelegatedToken makes a user token for tests of /me).
//
//   - PUT|PATCH …/photo/$value: 200 with an empty body. Refused: over 4 MiB 413; a Content-Type that
//     is missing, duplicated (two headers or a list) or not an image type 400 Request_BadRequest
//     "Content-Type was …" (the message Graph gives, msgraph-sdk-dotnet#1951;
//     application/octet-stream is accepted as Graph's SDKs send it); a compressed
//     (Content-Encoding) or non-image body 500 ErrorInternalServerError "The file you chose isn't
//     an image…"; width under 48 px 400 ValidationWidthTooSmall (height: ValidationHeightTooSmall,
//     inferred by symmetry). JPEG, PNG, GIF and BMP are recognised from their headers.
//   - GET …/photo/$value: the stored bytes; GET …/photo: metadata with @odata.mediaEtag and the
//     largest of Graph's sizes (48…648) not larger than the photo. The media ETag is an opaque
//     version, as Graph's is: every write gives a new one, the same bytes written twice included,
//     and no two writes of one emulator share one.
//   - DELETE …/photo/$value: users and groups; 405 for contacts (Graph supports neither).
//   - 404s: unknown user or group Request_ResourceNotFound; unknown contact or folder
//     ErrorItemNotFound; no photo ImageNotFound (contacts: ErrorItemNotFound).
//   - Permissions: app-only writes need ProfilePhoto.ReadWrite.All (or User/Group.ReadWrite.All),
//     contacts Contacts.ReadWrite; group photo deletes are not allowed to apps (403
//     ErrorAccessDenied), as profilephoto-delete documents.
//
// Inferred, not documented by Microsoft (marked unverified in docs/graph-photo-api.md): writes to a
// security group's photo answer 404 ErrorNonExistentMailbox (security groups have no mailbox to
// hold one), and the exact 405 body for contact deletes.
//
// Errors use Graph's envelope {"error":{"code","message","innerError":{"date","request-id",
// "client-request-id"}}}, and every response carries request-id and client-request-id headers
// (the client's, echoed, or the request id).
//
// # Test controls
//
// AddFault scripts failures by method, kind, path, skip and count: a status (429/503/504 with a
// Retry-After in seconds or as an HTTP date), a redirect (a 3xx with a Location, to test that a
// client does not follow it), a connection reset, or latency; AddRandomFault fails
// a share of requests from a seeded source. Requests returns the request log (method, path,
// status, content types, encoding, bytes, client-request-id, request-id, time); Photo reads a
// stored photo; SetPhoto changes one "from outside", as a person does in Outlook or Teams (a new
// media ETag, and nothing in the request log); RevokeTokens, SetAppSecrets and Options.Now drive token expiry and rotation.
// GET /gallery is an HTML page of the stored photos per tenant and target, with size and when
// each changed; the images come from /gallery/photo, with no external assets.
package graphtest
