package forge

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const (
	cacheMarker = "<!-- redis-gitops plan prod/cache -->"
	pr          = 7
)

// planOf is a plan body of about n bytes, in lines of 50.
func planOf(n int, word string) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%-8s line %06d of the plan, shards and slots\n", word, i)
	}
	return b.String()
}

// partOf is the comment part i of n of body.
func partOf(marker string, i, n int, content string) string {
	m, err := parseMarker(marker)
	if err != nil {
		panic(err)
	}
	return m.part(i, n) + content
}

func TestUpsert(t *testing.T) {
	long := planOf(2*MaxCommentLen+MaxCommentLen/2, "grown") // 3 parts
	parts := Split(long, MaxCommentLen-len("<!-- redis-gitops plan prod/cache part 999/999 -->\n"))
	if len(parts) != 3 {
		t.Fatalf("the long plan splits into %d parts, want 3", len(parts))
	}
	longComments := func(ids ...int64) []Comment {
		var cs []Comment
		for i, id := range ids {
			cs = append(cs, Comment{ID: id, Body: partOf(cacheMarker, i+1, 3, parts[i])})
		}
		return cs
	}
	other := Comment{ID: 1, Body: "LGTM, but check the slots"}
	otherCluster := Comment{ID: 2, Body: "<!-- redis-gitops plan prod/cache-2 -->\nplan of cache-2"}
	superseded := func(id int64, i int) Comment {
		return Comment{ID: id, Body: fmt.Sprintf("<!-- redis-gitops plan prod/cache part %d superseded -->\n%s", i, Superseded)}
	}

	tests := []struct {
		name     string
		before   []Comment
		pageSize int
		body     string

		wantIDs               []int64
		want                  []Comment // the whole conversation after
		wantCreates, wantEdit int
		wantPages             int // 0: not checked
	}{
		{
			name:        "the first call creates the comment",
			before:      []Comment{other},
			body:        "plan v1",
			wantIDs:     []int64{100},
			want:        []Comment{other, {ID: 100, Body: cacheMarker + "\nplan v1"}},
			wantCreates: 1,
		},
		{
			name:     "the next push edits it in place",
			before:   []Comment{other, {ID: 5, Body: cacheMarker + "\nplan v1"}},
			body:     "plan v2",
			wantIDs:  []int64{5},
			want:     []Comment{other, {ID: 5, Body: cacheMarker + "\nplan v2"}},
			wantEdit: 1,
		},
		{
			name:    "an unchanged plan is not edited",
			before:  []Comment{{ID: 5, Body: cacheMarker + "\nplan v1"}},
			body:    "plan v1",
			wantIDs: []int64{5},
			want:    []Comment{{ID: 5, Body: cacheMarker + "\nplan v1"}},
		},
		{
			name:     "a body starting with the marker does not get it twice",
			before:   []Comment{{ID: 5, Body: cacheMarker + "\nplan v1"}},
			body:     cacheMarker + "\nplan v2",
			wantIDs:  []int64{5},
			want:     []Comment{{ID: 5, Body: cacheMarker + "\nplan v2"}},
			wantEdit: 1,
		},
		{
			name: "the marker is found on page 3",
			before: []Comment{
				{ID: 1, Body: "a"}, {ID: 2, Body: "b"}, {ID: 3, Body: "c"}, {ID: 4, Body: "d"},
				{ID: 9, Body: cacheMarker + "\nplan v1"},
			},
			pageSize: 2,
			body:     "plan v2",
			wantIDs:  []int64{9},
			want: []Comment{
				{ID: 1, Body: "a"}, {ID: 2, Body: "b"}, {ID: 3, Body: "c"}, {ID: 4, Body: "d"},
				{ID: 9, Body: cacheMarker + "\nplan v2"},
			},
			wantEdit:  1,
			wantPages: 3,
		},
		{
			name:        "another cluster's plan is left alone",
			before:      []Comment{otherCluster},
			body:        "plan v1",
			wantIDs:     []int64{100},
			want:        []Comment{otherCluster, {ID: 100, Body: cacheMarker + "\nplan v1"}},
			wantCreates: 1,
		},
		{
			name:     "a marker behind a blank line or with CRLF line ends is found",
			before:   []Comment{{ID: 5, Body: "\r\n" + cacheMarker + "\r\nplan v1\r\n"}},
			body:     "plan v2",
			wantIDs:  []int64{5},
			want:     []Comment{{ID: 5, Body: cacheMarker + "\nplan v2"}},
			wantEdit: 1,
		},
		{
			name:        "a marker further down a comment does not count",
			before:      []Comment{{ID: 5, Body: "quoting the bot:\n" + cacheMarker}},
			body:        "plan v1",
			wantIDs:     []int64{100},
			want:        []Comment{{ID: 5, Body: "quoting the bot:\n" + cacheMarker}, {ID: 100, Body: cacheMarker + "\nplan v1"}},
			wantCreates: 1,
		},
		{
			name:        "a longer plan edits the comment into part 1 and adds the others",
			before:      []Comment{other, {ID: 5, Body: cacheMarker + "\nplan v1"}},
			body:        long,
			wantIDs:     []int64{5, 100, 101},
			want:        append([]Comment{other}, longComments(5, 100, 101)...),
			wantCreates: 2,
			wantEdit:    1,
		},
		{
			name:     "a shorter plan supersedes the parts left over",
			before:   append(longComments(5, 6, 8), other),
			body:     "plan v3",
			wantIDs:  []int64{5},
			want:     []Comment{{ID: 5, Body: cacheMarker + "\nplan v3"}, superseded(6, 2), superseded(8, 3), other},
			wantEdit: 3,
		},
		{
			name:     "superseded parts are used again when the plan grows",
			before:   []Comment{{ID: 5, Body: cacheMarker + "\nplan v3"}, superseded(6, 2), superseded(8, 3)},
			body:     long,
			wantIDs:  []int64{5, 6, 8},
			want:     longComments(5, 6, 8),
			wantEdit: 3,
		},
		{
			name:     "already superseded parts are not edited again",
			before:   []Comment{{ID: 5, Body: cacheMarker + "\nplan v3"}, superseded(6, 2)},
			body:     "plan v3",
			wantIDs:  []int64{5},
			want:     []Comment{{ID: 5, Body: cacheMarker + "\nplan v3"}, superseded(6, 2)},
			wantEdit: 0,
		},
		{
			name:     "a duplicate (a create that timed out yet happened) is superseded",
			before:   []Comment{{ID: 5, Body: cacheMarker + "\nplan v1"}, {ID: 6, Body: cacheMarker + "\nplan v1"}},
			body:     "plan v2",
			wantIDs:  []int64{5},
			want:     []Comment{{ID: 5, Body: cacheMarker + "\nplan v2"}, superseded(6, 2)},
			wantEdit: 2,
		},
		{
			name:     "parts are taken oldest first whatever the listing order",
			before:   []Comment{{ID: 8, Body: "<!-- redis-gitops plan prod/cache part 2/2 -->\nb"}, {ID: 5, Body: "<!-- redis-gitops plan prod/cache part 1/2 -->\na"}},
			body:     "plan v2",
			wantIDs:  []int64{5},
			want:     []Comment{superseded(8, 2), {ID: 5, Body: cacheMarker + "\nplan v2"}},
			wantEdit: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeForge(pr, tt.before...)
			f.pageSize = tt.pageSize
			ids, err := Upsert(t.Context(), f, pr, cacheMarker, tt.body)
			if err != nil {
				t.Fatalf("Upsert: %v", err)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("Upsert returned IDs %v, want %v", ids, tt.wantIDs)
			}
			if !slices.Equal(f.comments, tt.want) {
				t.Errorf("comments after Upsert:\n%s\nwant:\n%s", dump(f.comments), dump(tt.want))
			}
			if f.creates != tt.wantCreates || f.edits != tt.wantEdit {
				t.Errorf("Upsert made %d comments and %d edits, want %d and %d", f.creates, f.edits, tt.wantCreates, tt.wantEdit)
			}
			if tt.wantPages > 0 && f.pagesRead != tt.wantPages {
				t.Errorf("Upsert read %d pages, want %d", f.pagesRead, tt.wantPages)
			}
			for _, c := range f.comments {
				if len(c.Body) > MaxCommentLen {
					t.Errorf("comment %d is %d bytes, more than %d", c.ID, len(c.Body), MaxCommentLen)
				}
			}
		})
	}
}

// TestUpsertPushes follows one pull request through several pushes.
func TestUpsertPushes(t *testing.T) {
	f := newFakeForge(pr, Comment{ID: 1, Body: "please review"})
	f.pageSize = 2
	pushes := []struct {
		body    string
		wantIDs []int64
	}{
		{"plan v1", []int64{100}},
		{"plan v2", []int64{100}},
		{planOf(MaxCommentLen+10, "v3"), []int64{100, 101}},
		{planOf(MaxCommentLen+10, "v4"), []int64{100, 101}},
		{"plan v5", []int64{100}},
		{planOf(2*MaxCommentLen+10, "v6"), []int64{100, 101, 102}},
	}
	for i, p := range pushes {
		ids, err := Upsert(t.Context(), f, pr, cacheMarker, p.body)
		if err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
		if !slices.Equal(ids, p.wantIDs) {
			t.Fatalf("push %d: IDs %v, want %v", i+1, ids, p.wantIDs)
		}
		// The parts, markers off, are the plan again.
		var got strings.Builder
		for _, id := range ids {
			i := slices.IndexFunc(f.comments, func(c Comment) bool { return c.ID == id })
			_, content, _ := strings.Cut(f.comments[i].Body, "\n")
			got.WriteString(content)
		}
		if got.String() != p.body {
			t.Errorf("push %d: the parts do not add up to the plan", i+1)
		}
	}
	if got, want := len(f.comments), 4; got != want {
		t.Errorf("%d comments on the pull request after the pushes, want %d", got, want)
	}
}

func TestUpsertErrors(t *testing.T) {
	t.Run("not a marker", func(t *testing.T) {
		for _, m := range []string{"", "redis-gitops plan", "<!-- -->", "<!-- a --> b -->", "<!-- a\nb -->"} {
			f := newFakeForge(pr)
			if _, err := Upsert(t.Context(), f, pr, m, "plan"); err == nil {
				t.Errorf("Upsert with marker %q: no error", m)
			}
			if f.pagesRead+f.creates+f.edits > 0 {
				t.Errorf("Upsert with marker %q called the forge", m)
			}
		}
	})
	t.Run("listing fails", func(t *testing.T) {
		f := newFakeForge(pr)
		f.failList = &HTTPError{StatusCode: 401, Err: errors.New("401 Bad credentials")}
		_, err := Upsert(t.Context(), f, pr, cacheMarker, "plan")
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != 401 {
			t.Errorf("Upsert = %v, want the listing's *HTTPError", err)
		}
		if !strings.Contains(err.Error(), "redis-gitops plan prod/cache") {
			t.Errorf("error %q does not name the plan", err)
		}
		if f.creates > 0 {
			t.Error("Upsert created a comment without knowing the existing ones")
		}
	})
	t.Run("creating fails", func(t *testing.T) {
		f := newFakeForge(pr)
		f.failCreate = errors.New("connection reset")
		if _, err := Upsert(t.Context(), f, pr, cacheMarker, "plan"); err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("Upsert = %v, want the create's error", err)
		}
	})
}

func TestMarkerLines(t *testing.T) {
	m, err := parseMarker(cacheMarker)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		first string
		want  bool
	}{
		{"<!-- redis-gitops plan prod/cache -->", true},
		{"<!-- redis-gitops plan prod/cache part 2/3 -->", true},
		{"<!-- redis-gitops plan prod/cache part 12 superseded -->", true},
		{"  <!-- redis-gitops plan prod/cache -->  ", true},
		{"<!-- redis-gitops plan prod/cache-2 -->", false},
		{"<!-- redis-gitops plan prod/cache part 2/3 --> extra", false},
		{"<!-- redis-gitops plan prod/cache part two -->", false},
		{"<!-- redis-gitops plan prod -->", false},
		{"redis-gitops plan prod/cache", false},
	}
	for _, tt := range tests {
		if got := m.marks(tt.first + "\nbody"); got != tt.want {
			t.Errorf("marks(%q) = %v, want %v", tt.first, got, tt.want)
		}
	}
	if got, want := m.part(2, 3), "<!-- redis-gitops plan prod/cache part 2/3 -->\n"; got != want {
		t.Errorf("part(2, 3) = %q, want %q", got, want)
	}
	if got, want := m.part(1, 1), cacheMarker+"\n"; got != want {
		t.Errorf("part(1, 1) = %q, want %q", got, want)
	}
}

func dump(cs []Comment) string {
	var b strings.Builder
	for _, c := range cs {
		body := c.Body
		if len(body) > 80 {
			body = fmt.Sprintf("%s… (%d bytes)", body[:80], len(body))
		}
		fmt.Fprintf(&b, "  %d: %q\n", c.ID, body)
	}
	return b.String()
}
