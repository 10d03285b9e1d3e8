package signals

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// An evaluator of the part of Cloud Logging's query language the exclusion
// uses, as cloud.google.com/logging/docs/view/logging-query-language
// documents it:
//   - NOT binds tightest, then OR, then AND ("a AND b OR c" is "a AND (b OR c)");
//     terms side by side are joined by AND;
//   - field = value, != , < <= > >= (numbers compare as numbers), : (has: the
//     value is a substring of the field, case-insensitive), =~ and !~ (RE2
//     regular expressions, unanchored);
//   - a comparison on a field the entry lacks is false (so NOT of it is true);
//   - log_id("LOG") matches the entry whose logName is projects/P/logs/LOG,
//     with LOG URL-encoded.
// It judges a LogEntry given as nested maps, as LogEntry's JSON has it.

type query interface {
	eval(entry map[string]any) bool
}

type and []query
type or []query
type not struct{ q query }
type cmp struct {
	path      []string
	op, value string
}
type logID struct{ id string }

func (q and) eval(e map[string]any) bool {
	for _, x := range q {
		if !x.eval(e) {
			return false
		}
	}
	return true
}

func (q or) eval(e map[string]any) bool {
	for _, x := range q {
		if x.eval(e) {
			return true
		}
	}
	return false
}

func (q not) eval(e map[string]any) bool { return !q.q.eval(e) }

func (q logID) eval(e map[string]any) bool {
	name, _ := e["logName"].(string)
	return strings.HasSuffix(name, "/logs/"+url.PathEscape(q.id))
}

func (q cmp) eval(e map[string]any) bool {
	var v any = e
	for _, p := range q.path {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[p]; !ok {
			return false
		}
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		s = strconv.Itoa(x)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return false
	}
	switch q.op {
	case "=":
		return s == q.value
	case "!=":
		return s != q.value
	case ":":
		return strings.Contains(strings.ToLower(s), strings.ToLower(q.value))
	case "=~", "!~":
		re := regexp.MustCompile(q.value)
		return re.MatchString(s) == (q.op == "=~")
	}
	a, err1 := strconv.ParseFloat(s, 64)
	b, err2 := strconv.ParseFloat(q.value, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	switch q.op {
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

// parseQuery parses a filter, failing the test on anything it does not know.
func parseQuery(t *testing.T, src string) query {
	t.Helper()
	p := &qparser{toks: tokenize(t, src)}
	q := p.and(t)
	if p.i != len(p.toks) {
		t.Fatalf("query: unexpected %q at token %d of %q", p.toks[p.i], p.i, src)
	}
	return q
}

type qparser struct {
	toks []string
	i    int
}

func (p *qparser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *qparser) next() string { t := p.peek(); p.i++; return t }

func (p *qparser) and(t *testing.T) query {
	q := and{p.or(t)}
	for {
		switch p.peek() {
		case "AND":
			p.next()
		case "", ")", "OR":
			if len(q) == 1 {
				return q[0]
			}
			return q
		}
		q = append(q, p.or(t))
	}
}

func (p *qparser) or(t *testing.T) query {
	q := or{p.not(t)}
	for p.peek() == "OR" {
		p.next()
		q = append(q, p.not(t))
	}
	if len(q) == 1 {
		return q[0]
	}
	return q
}

func (p *qparser) not(t *testing.T) query {
	if p.peek() == "NOT" || p.peek() == "-" {
		p.next()
		return not{p.not(t)}
	}
	return p.primary(t)
}

func (p *qparser) primary(t *testing.T) query {
	tok := p.next()
	if tok == "(" {
		q := p.and(t)
		if p.next() != ")" {
			t.Fatalf("query: missing )")
		}
		return q
	}
	if tok == "log_id" {
		if p.next() != "(" {
			t.Fatalf("query: log_id without (")
		}
		id := unquote(t, p.next())
		if p.next() != ")" {
			t.Fatalf("query: log_id without )")
		}
		return logID{id}
	}
	op := p.next()
	switch op {
	case "=", "!=", "<", "<=", ">", ">=", ":", "=~", "!~":
	default:
		t.Fatalf("query: %q is not a comparison after %q", op, tok)
	}
	var path []string
	for _, part := range splitPath(tok) {
		path = append(path, unquote(t, part))
	}
	return cmp{path: path, op: op, value: unquote(t, p.next())}
}

// splitPath splits a.b."c.d" at the dots outside quotes.
func splitPath(s string) []string {
	var out []string
	cur, quoted := "", false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			cur += string(r)
		case r == '.' && !quoted:
			out = append(out, cur)
			cur = ""
		default:
			cur += string(r)
		}
	}
	return append(out, cur)
}

func unquote(t *testing.T, s string) string {
	if !strings.HasPrefix(s, `"`) {
		return s
	}
	u, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("query: bad string %s: %v", s, err)
	}
	return u
}

func tokenize(t *testing.T, s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		case strings.ContainsRune("=!<>:~", rune(c)):
			j := i + 1
			for j < len(s) && strings.ContainsRune("=<>~", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \n\t()=!<>:~", rune(s[j])) {
				if s[j] == '"' { // a quoted path segment: a."b.c"
					k := j + 1
					for k < len(s) && s[k] != '"' {
						k++
					}
					j = k
				}
				j++
			}
			if j == i {
				t.Fatalf("query: cannot read %q", s[i:])
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

// The evaluator keeps the documented precedence: "a AND b OR c" is
// "a AND (b OR c)", unlike most languages.
func TestLogQueryPrecedence(t *testing.T) {
	e := map[string]any{"a": "1", "b": "0", "c": "1"}
	for q, want := range map[string]bool{
		`a="1" AND b="1" OR c="1"`:    true,  // a AND (b OR c)
		`a="0" AND b="0" OR c="1"`:    false, // would be true as (a AND b) OR c
		`NOT a="0" AND c="1"`:         true,
		`a:"1" b="0"`:                 true, // juxtaposition is AND
		`missing="x"`:                 false,
		`NOT missing="x"`:             true,
		`a<2`:                         true,
		`a=~"^[0-9]$" AND NOT b!~"0"`: true,
	} {
		if got := parseQuery(t, q).eval(e); got != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
}
