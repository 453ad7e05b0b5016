package routing

import (
	"net/http"
	"strings"
)

// The client headers that name a routing group.
const (
	// HeaderTrino is the Trino client's routing group header.
	HeaderTrino = "X-Trino-Routing-Group"
	// HeaderPresto is the Presto client's routing group header.
	HeaderPresto = "X-Presto-Routing-Group"
)

// HeaderGroup returns the routing group named by h: the X-Trino-Routing-Group value, or
// else the X-Presto-Routing-Group value, trimmed of spaces; "" when neither is set.
func HeaderGroup(h http.Header) string {
	if g := strings.TrimSpace(h.Get(HeaderTrino)); g != "" {
		return g
	}
	return strings.TrimSpace(h.Get(HeaderPresto))
}
