package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// handler serves the control socket:
//
//	GET  /status
//	POST /nodes/{name}/{kill|start|partition|heal}
//	POST /pods/{namespace}/{name}/kill?container=C
func (s *Supervisor) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeReply(w, s.State(r.Context()), nil)
	})
	mux.HandleFunc("POST /nodes/{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var err error
		switch r.PathValue("action") {
		case "kill":
			err = s.KillNode(r.Context(), name)
		case "start":
			err = s.StartNode(r.Context(), name)
		case "partition":
			err = s.PartitionNode(r.Context(), name, true)
		case "heal":
			err = s.PartitionNode(r.Context(), name, false)
		default:
			err = fmt.Errorf("unknown node action %q (kill, start, partition, heal)", r.PathValue("action"))
		}
		writeReply(w, nil, err)
	})
	mux.HandleFunc("POST /pods/{namespace}/{name}/kill", func(w http.ResponseWriter, r *http.Request) {
		err := s.KillContainer(r.Context(), r.PathValue("namespace"), r.PathValue("name"), r.URL.Query().Get("container"))
		writeReply(w, nil, err)
	})
	return mux
}

type reply struct {
	Error string `json:"error,omitempty"`
	State *State `json:"state,omitempty"`
}

func writeReply(w http.ResponseWriter, st any, err error) {
	w.Header().Set("Content-Type", "application/json")
	var rep reply
	if s, ok := st.(State); ok {
		rep.State = &s
	}
	if err != nil {
		rep.Error = err.Error()
		w.WriteHeader(http.StatusBadRequest)
	}
	_ = json.NewEncoder(w).Encode(rep)
}

// Client talks to a running sandbox's control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client for the sandbox whose socket is at path.
func NewClient(socket string) *Client {
	return &Client{socket: socket, http: &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

func (c *Client) do(ctx context.Context, method, path string) (*reply, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://sandbox"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sandbox control socket %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var rep reply
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("sandbox control socket: bad reply %q", strings.TrimSpace(string(body)))
	}
	if rep.Error != "" {
		return &rep, fmt.Errorf("%s", rep.Error)
	}
	return &rep, nil
}

// Status returns the sandbox's state.
func (c *Client) Status(ctx context.Context) (State, error) {
	rep, err := c.do(ctx, http.MethodGet, "/status")
	if err != nil {
		return State{}, err
	}
	if rep.State == nil {
		return State{}, fmt.Errorf("sandbox control socket: reply without state")
	}
	return *rep.State, nil
}

// Node runs a node action: kill, start, partition or heal.
func (c *Client) Node(ctx context.Context, name, action string) error {
	_, err := c.do(ctx, http.MethodPost, "/nodes/"+name+"/"+action)
	return err
}

// KillContainer kills one container's process (container may be empty for
// a single-container pod).
func (c *Client) KillContainer(ctx context.Context, namespace, pod, container string) error {
	_, err := c.do(ctx, http.MethodPost, "/pods/"+namespace+"/"+pod+"/kill?container="+container)
	return err
}
