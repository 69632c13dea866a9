package daemon

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Server is the daemon's HTTP side: the webhooks, /metrics, /healthz and
// /readyz.
type Server struct {
	Webhooks *Webhooks
	Metrics  *Metrics
	// Daemon is asked for its state; Leading tells whether this process
	// holds the Lease.
	Daemon  *Daemon
	Leading *atomic.Bool
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	hooks := s.Webhooks.Handler()
	mux.Handle("/hooks/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider := strings.TrimPrefix(r.URL.Path, "/hooks/")
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		if !s.Leading.Load() {
			// Only the leader acts; it also polls, so nothing is lost.
			w.Header().Set("Retry-After", "5")
			http.Error(rec, "this daemon is not the leader: the leader's next poll picks the change up", http.StatusServiceUnavailable)
		} else {
			hooks.ServeHTTP(rec, r)
		}
		switch provider {
		case "github", "gitea", "gitlab", "generic":
		default:
			provider = "unknown"
		}
		s.Metrics.Webhooks.WithLabelValues(provider, strconv.Itoa(rec.code)).Inc()
	}))
	mux.Handle("/metrics", s.Metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.health())
	})
	// Ready: a follower is ready (to take over); a leader once it has
	// loaded the specs at least once.
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		h := s.health()
		code := http.StatusOK
		if h.Leading && !h.State.Loaded {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, h)
	})
	return mux
}

type health struct {
	Leading bool  `json:"leading"`
	State   State `json:"state"`
}

func (s *Server) health() health {
	return health{Leading: s.Leading.Load(), State: s.Daemon.Status()}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}
