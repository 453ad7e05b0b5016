package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/services/ingest/internal/clusters"
)

// adminAllowed checks the admin token when one is configured; it answers 401 itself.
func (s *Server) adminAllowed(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.AdminToken == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.AdminToken)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="sluice-admin"`)
	writeAdminError(w, http.StatusUnauthorized, "the admin API needs Authorization: Bearer <SLUICE_ADMIN_TOKEN>")
	return false
}

func writeAdminError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// listClusters serves GET /v1/clusters.
func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) {
		return
	}
	if s.opts.Clusters == nil {
		writeAdminError(w, http.StatusServiceUnavailable, "the cluster admin API is not available")
		return
	}
	all, err := s.opts.Clusters.List(r.Context())
	if err != nil {
		writeAdminError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, all)
}

// getCluster serves GET /v1/clusters/{name}.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) {
		return
	}
	if s.opts.Clusters == nil {
		writeAdminError(w, http.StatusServiceUnavailable, "the cluster admin API is not available")
		return
	}
	v, err := s.opts.Clusters.Get(r.Context(), r.PathValue("name"))
	s.writeClusterResult(w, v, err)
}

// clusterAction serves POST /v1/clusters/{name}/{drain|resume|deactivate}. An optional JSON
// body {"reason": "..."} is recorded with the wish.
func (s *Server) clusterAction(w http.ResponseWriter, r *http.Request) {
	if !s.adminAllowed(w, r) {
		return
	}
	if s.opts.Clusters == nil {
		writeAdminError(w, http.StatusServiceUnavailable, "the cluster admin API is not available")
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil && len(strings.TrimSpace(string(raw))) > 0 {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "the body must be JSON like {\"reason\": \"...\"}: "+err.Error())
		return
	}
	action := clusters.Action(r.PathValue("action"))
	switch action {
	case clusters.ActionDrain, clusters.ActionResume, clusters.ActionDeactivate:
	default:
		writeAdminError(w, http.StatusNotFound, "unknown action "+string(action)+": use drain, resume or deactivate")
		return
	}
	by := r.Header.Get("X-Trino-User")
	if by == "" {
		by = r.Header.Get("X-Presto-User")
	}
	v, err := s.opts.Clusters.Do(r.Context(), r.PathValue("name"), action, by, body.Reason)
	if err == nil {
		s.log.Info("cluster action", "cluster", v.Name, "action", action, "by", by, "reason", body.Reason)
	}
	s.writeClusterResult(w, v, err)
}

func (s *Server) writeClusterResult(w http.ResponseWriter, v clusters.View, err error) {
	switch {
	case errors.Is(err, clusters.ErrUnknownCluster):
		writeAdminError(w, http.StatusNotFound, err.Error())
	case err != nil:
		writeAdminError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeJSON(w, v)
	}
}
