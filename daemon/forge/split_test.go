package forge

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	rows := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "| %d | %d |\n", i%10, i%10)
		}
		return b.String()
	}
	const head = "| a | b |\n|---|---|\n"
	tests := []struct {
		name string
		body string
		max  int
		want []string
	}{
		{
			name: "a body that fits is one part",
			body: "# Plan\n\nnothing to do\n",
			max:  100,
			want: []string{"# Plan\n\nnothing to do\n"},
		},
		{
			name: "an empty body is one empty part",
			body: "",
			max:  10,
			want: []string{""},
		},
		{
			name: "no limit",
			body: strings.Repeat("x", 100),
			max:  0,
			want: []string{strings.Repeat("x", 100)},
		},
		{
			name: "between lines, never inside one",
			body: "aaaa\nbbbb\ncccc\n",
			max:  10,
			want: []string{"aaaa\nbbbb\n", "cccc\n"},
		},
		{
			name: "before a heading rather than after the next line",
			body: "intro line one\nintro line two\n## Next\nbody of next\n",
			max:  40,
			want: []string{"intro line one\nintro line two\n", "## Next\nbody of next\n"},
		},
		{
			name: "after a blank line",
			body: "first paragraph\n\nsecond one, a\nsecond one, b\n",
			max:  32,
			want: []string{"first paragraph\n\n", "second one, a\nsecond one, b\n"},
		},
		{
			name: "a blank line too early leaves the part short: the last line that fits instead",
			body: "a\n\nline number one\nline number two\nline number three\n",
			max:  40,
			want: []string{"a\n\nline number one\nline number two\n", "line number three\n"},
		},
		{
			name: "a fenced block is closed and reopened with its info string",
			body: "intro\n```diff\n-a: 1\n+a: 2\n-b: 1\n+b: 2\n```\nafter\n",
			max:  30,
			want: []string{
				"intro\n```diff\n-a: 1\n+a: 2\n```\n",
				"```diff\n-b: 1\n+b: 2\n```\nafter\n",
			},
		},
		{
			name: "a tilde fence keeps its length and indentation",
			body: "- item\n  ~~~~yaml\n  a: 1\n  b: 2\n  c: 3\n  ~~~~\n",
			max:  44,
			want: []string{
				"- item\n  ~~~~yaml\n  a: 1\n  b: 2\n  ~~~~\n",
				"  ~~~~yaml\n  c: 3\n  ~~~~\n",
			},
		},
		{
			name: "backticks in a tilde block neither open nor close anything",
			body: "~~~\n```\nx\n```\n~~~\ntail line\n",
			max:  24,
			want: []string{"~~~\n```\nx\n```\n~~~\n", "tail line\n"},
		},
		{
			name: "a table repeats its header and delimiter rows",
			body: head + rows(1, 10),
			max:  80,
			want: []string{head + rows(1, 6), head + rows(7, 10)},
		},
		{
			name: "a table ends at a blank line",
			body: head + rows(1, 5) + "\nafter the table\nand more\n",
			max:  80,
			want: []string{head + rows(1, 5) + "\n", "after the table\nand more\n"},
		},
		{
			name: "never between a table's header and delimiter rows",
			body: "text\n| a | b |\n|---|---|\n| 1 | 2 |\n",
			max:  20,
			want: []string{"text\n", "| a | b |\n|---|---|\n", "| 1 | 2 |\n"},
		},
		{
			name: "a long line is cut after a space",
			body: "alpha beta gamma delta\n",
			max:  12,
			want: []string{"alpha beta ", "gamma delta\n"},
		},
		{
			name: "a long line is cut between characters, not bytes",
			body: strings.Repeat("é", 11),
			max:  5,
			want: []string{"éé", "éé", "éé", "éé", "éé", "é"},
		},
		{
			name: "a long line without spaces is cut at the limit",
			body: strings.Repeat("x", 25),
			max:  10,
			want: []string{strings.Repeat("x", 10), strings.Repeat("x", 10), strings.Repeat("x", 5)},
		},
		{
			name: "a long line fills the part it starts in",
			body: "short\n" + strings.Repeat("y", 20) + "\n",
			max:  16,
			want: []string{"short\n" + strings.Repeat("y", 10), strings.Repeat("y", 10) + "\n"},
		},
		{
			name: "a long line in a fenced block becomes lines of the block",
			body: "```\n" + strings.Repeat("x", 30) + "\n```\n",
			max:  20,
			want: []string{
				"```\n" + strings.Repeat("x", 11) + "\n```\n",
				"```\n" + strings.Repeat("x", 11) + "\n```\n",
				"```\n" + strings.Repeat("x", 8) + "\n```\n",
			},
		},
		{
			name: "a body without a final newline",
			body: "aaaa\nbbbb\ncc",
			max:  10,
			want: []string{"aaaa\nbbbb\n", "cc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.body, tt.max)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Split(%q, %d):\n got %q\nwant %q", tt.body, tt.max, got, tt.want)
			}
			checkParts(t, tt.body, got, tt.max)
		})
	}
}

// TestSplitPlan splits a plan-sized body (tables, diffs, long lines, text
// in several scripts) at many limits and checks what every split must
// keep.
func TestSplitPlan(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "## prod/cache-%d\n\nScale from %d to %d shards — 缓存 «%d».\n\n", i, i, i+1, i)
		b.WriteString("| shard | slots | keys |\n|:---|---:|---:|\n")
		for j := range i % 7 {
			fmt.Fprintf(&b, "| %d | %d-%d | %d |\n", j, j*100, j*100+99, j*1000)
		}
		b.WriteString("\n```diff\n")
		for j := range i % 9 {
			fmt.Fprintf(&b, "-  replicas: %d\n+  replicas: %d\n", j, j+1)
		}
		b.WriteString("```\n\n")
		if i%10 == 3 {
			b.WriteString(strings.Repeat("long ", 50) + "\n")
		}
	}
	body := b.String()
	for _, max := range []int{200, 333, 1000, 4096, len(body) - 1} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			parts := Split(body, max)
			if len(parts) < 2 {
				t.Fatalf("%d bytes at most %d: %d part(s)", len(body), max, len(parts))
			}
			checkParts(t, body, parts, max)
			for i, p := range parts {
				if !balancedFences(p) {
					t.Errorf("part %d has an unclosed fence:\n%s", i+1, p)
				}
				if r := orphanRow(p); r != "" {
					t.Errorf("part %d has table row %q without a header:\n%s", i+1, r, p)
				}
			}
		})
	}
}

// checkParts checks what every split keeps: parts within max, valid
// UTF-8, and, without fences and tables, the body when joined.
func checkParts(t *testing.T, body string, parts []string, max int) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatal("no parts")
	}
	for i, p := range parts {
		if max > 0 && len(p) > max {
			t.Errorf("part %d is %d bytes, more than %d: %q", i+1, len(p), max, p)
		}
		if !utf8.ValidString(p) {
			t.Errorf("part %d is not valid UTF-8: %q", i+1, p)
		}
		if len(parts) > 1 && p == "" {
			t.Errorf("part %d is empty", i+1)
		}
	}
	if !strings.Contains(body, "```") && !strings.Contains(body, "~~~") && !strings.Contains(body, "|") {
		if got := strings.Join(parts, ""); got != body {
			t.Errorf("parts joined differ from the body:\n got %q\nwant %q", got, body)
		}
	}
}

// balancedFences reports whether every fence the part opens it closes.
func balancedFences(part string) bool {
	var open fenceLine
	for _, line := range strings.SplitAfter(part, "\n") {
		if open.n > 0 {
			if open.closedBy(line) {
				open = fenceLine{}
			}
		} else if f, ok := openingFence(line); ok {
			open = f
		}
	}
	return open.n == 0
}

// orphanRow returns the first table row outside fences that no header and
// delimiter row precede within the part.
func orphanRow(part string) string {
	lines := strings.SplitAfter(part, "\n")
	var fence fenceLine
	inTable := false
	for i, line := range lines {
		switch {
		case fence.n > 0:
			if fence.closedBy(line) {
				fence = fenceLine{}
			}
		case isBlank(line):
			inTable = false
		case strings.HasPrefix(line, "|"):
			if !inTable {
				if i+1 >= len(lines) || !isDelimiterRow(lines[i+1]) {
					return line
				}
				inTable = true
			}
		default:
			if f, ok := openingFence(line); ok {
				fence = f
			}
		}
	}
	return ""
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"scale prod/cache to 6 shards", 140, "scale prod/cache to 6 shards"},
		{"two\nlines  and\ttabs", 140, "two lines and tabs"},
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefghi…"},
		{"ééééééééééé", 10, "ééééééééé…"},
		{"a b c d e f", 6, "a b c…"},
		{strings.Repeat("🚀", 200), 140, strings.Repeat("🚀", 139) + "…"},
	}
	for _, tt := range tests {
		got := oneLine(tt.in, tt.max)
		if got != tt.want {
			t.Errorf("oneLine(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if n := utf8.RuneCountInString(got); n > tt.max || !utf8.ValidString(got) {
			t.Errorf("oneLine(%q, %d) = %q: %d characters", tt.in, tt.max, got, n)
		}
	}
}
