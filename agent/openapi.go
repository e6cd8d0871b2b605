package agent

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 document of the whole API, served at
// /v1/openapi.json. Whoever adds a route to routes documents it here in
// the same change; TestOpenAPIRouteCoverage fails otherwise.
//
//go:embed openapi.json
var OpenAPI []byte

// serveOpenAPI answers GET /v1/openapi.json. It needs no token: the
// document names routes and fields, never data or secrets.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(OpenAPI)
}
