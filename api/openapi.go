package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPI describes every route of the API, its errors (RFC 9457 problem
// details) and the webhook events teams receive, as OpenAPI 3.1. A test
// checks it against the registered routes.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document served at /api/v1/openapi.json.
func OpenAPI() []byte { return openAPI }

// serveOpenAPI needs no token: the document holds no data.
func serveOpenAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", openAPI)
}
