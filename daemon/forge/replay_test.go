package forge

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// exchange is one recorded request to a forge's API and its answer.
type exchange struct {
	// The request expected: method, path, query (compared as values) and
	// JSON body ("" for none).
	method, path, query, body string

	// The answer: status, headers and the file under testdata holding the
	// body. A header value "{{unix now+D}}" becomes the Unix time D from
	// when the answer is sent (X-RateLimit-Reset is absolute).
	status int
	header map[string]string
	file   string
}

// replay is an HTTP server that plays a recording back: it answers the
// expected requests, in order, with the recorded answers, after checking
// each one's method, path, query, Authorization header and body. Anything
// else fails the test and is answered 418, which no client tries again.
type replay struct {
	t         *testing.T
	dir, auth string
	URL       string

	mu       sync.Mutex
	script   []exchange
	next     int
	arrived  []time.Time   // when each request came
	answered []http.Header // the headers each answer had
}

// newReplay starts a replay of script whose answers are in dir and whose
// requests must carry the Authorization header auth. When the test ends
// it checks that every recorded request came.
func newReplay(t *testing.T, dir, auth string, script ...exchange) *replay {
	r := &replay{t: t, dir: dir, auth: auth, script: script}
	srv := httptest.NewServer(r)
	r.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.next < len(r.script) {
			x := r.script[r.next]
			t.Errorf("replay: %d recorded requests never came, the first %s %s", len(r.script)-r.next, x.method, x.path)
		}
	})
	return r
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("replay: read %s %s: %v", req.Method, req.URL, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next >= len(r.script) {
		r.t.Errorf("replay: unexpected request %s %s after the recording's %d", req.Method, req.URL, len(r.script))
		http.Error(w, `{"message":"not in the recording"}`, http.StatusTeapot)
		return
	}
	n, x := r.next+1, r.script[r.next]
	r.next++
	r.arrived = append(r.arrived, time.Now())
	if problems := r.check(x, req, body); len(problems) > 0 {
		r.t.Errorf("replay: request %d, %s %s?%s:\n\t%s", n, req.Method, req.URL.Path, req.URL.RawQuery, strings.Join(problems, "\n\t"))
		r.answered = append(r.answered, nil)
		http.Error(w, `{"message":"not the recorded request"}`, http.StatusTeapot)
		return
	}
	for k, v := range x.header {
		w.Header().Set(k, expandHeader(v))
	}
	r.answered = append(r.answered, w.Header().Clone())
	var answer []byte
	if x.file != "" {
		if answer, err = os.ReadFile(filepath.Join(r.dir, x.file)); err != nil {
			r.t.Errorf("replay: %v", err)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(x.status)
	w.Write(answer)
}

// check lists how req differs from the recorded request.
func (r *replay) check(x exchange, req *http.Request, body []byte) []string {
	var problems []string
	if req.Method != x.method || req.URL.Path != x.path {
		problems = append(problems, fmt.Sprintf("want %s %s", x.method, x.path))
	}
	want, err := url.ParseQuery(x.query)
	if err != nil {
		problems = append(problems, fmt.Sprintf("recorded query %q: %v", x.query, err))
	}
	if got := req.URL.Query(); !(len(got) == 0 && len(want) == 0) && !reflect.DeepEqual(got, want) {
		problems = append(problems, fmt.Sprintf("query %q, want %q", req.URL.RawQuery, x.query))
	}
	if got := req.Header.Get("Authorization"); got != r.auth {
		problems = append(problems, fmt.Sprintf("Authorization %q, want %q", got, r.auth))
	}
	switch {
	case x.body == "" && len(body) > 0:
		problems = append(problems, fmt.Sprintf("body %s, want none", body))
	case x.body != "" && !sameJSON(body, []byte(x.body)):
		problems = append(problems, fmt.Sprintf("body %s, want %s", body, x.body))
	}
	return problems
}

func sameJSON(a, b []byte) bool {
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}

// expandHeader fills in "{{unix now+D}}".
func expandHeader(v string) string {
	d, ok := strings.CutPrefix(v, "{{unix now+")
	if d, ok = strings.CutSuffix(d, "}}"); !ok {
		return v
	}
	wait, err := time.ParseDuration(d)
	if err != nil {
		panic(fmt.Sprintf("replay: header %q: %v", v, err))
	}
	return strconv.FormatInt(time.Now().Add(wait).Unix(), 10)
}

// requests returns how many requests came, and when.
func (r *replay) requests() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.arrived...)
}

// answer returns the headers of the n-th answer (from 0).
func (r *replay) answer(n int) http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.answered[n]
}
