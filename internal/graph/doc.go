// Package graph is the Microsoft Graph client of the profile photo routes (docs/architecture.md
// §2; the facts it rests on, with Microsoft's pages, are in docs/graph-photo-api.md).
//
//   - Targets: ParseTarget reads users/{id|upn}, groups/{id}, users/{id}/contacts/{id},
//     users/{id}/contactfolders/{folder}/contacts/{id} and the me… forms, as Graph's paths are
//     written, into a Target whose ids are escaped one segment each; a malformed one is a
//     *TargetError (ReasonBadTarget). The API resolves me to the caller (Target.ForCaller); the
//     client refuses an unresolved me, since app-only tokens cannot use it.
//   - Calls: Client.PutPhoto (PUT or PATCH …/photo/$value, a JPEG of at most MaxPhotoBytes),
//     GetPhoto, GetPhotoMeta (GET …/photo, with @odata.mediaEtag) and DeletePhoto.
//   - Tokens: app-only, from Microsoft's MSAL, with the credentials a CredentialsSource gives
//     (StaticCredentials, or Secrets Manager through internal/secrets), for the credentials'
//     national cloud (LookupCloud, WithCloud); GRAPH_ENDPOINT and GRAPH_AUTHORITY override the
//     hosts for emulators (ResolveEndpoints). One Client per container keeps MSAL's token cache.
//   - Retries inside one call: only transient failures (429, 503, 504, no answer, a token endpoint
//     that is throttled or down), within Options.MaxAttempts, waiting Retry-After or a jittered
//     backoff, never past the invocation's deadline; a 401 gets one more try with a fresh token.
//     Redirects are never followed (NoRedirects): a 3xx is ReasonRedirect.
//   - Errors: every failure is an *Error whose reason (a reason.Reason: classify) says its class
//     and the API's answer for it; its text holds Graph's code, a clipped message and the
//     request ids, never a token, an assertion or a secret.
//
// graphtest, beside it, is an emulator of Graph and of the Entra token endpoint for the tests and
// the local stack.
package graph
