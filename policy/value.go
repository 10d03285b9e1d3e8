package policy

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/property"
)

// Unknown stands for a value nobody knows yet: during `pulumi preview`, what a
// cloud provider computes (an address, a service account's email, a self link)
// is unknown. Checks treat it as "cannot tell" and never report it: a preview
// must not fail on a value that will be fine once it exists.
type Unknown struct{}

func (Unknown) String() string { return "<unknown>" }

// isUnknown reports whether v is an unknown value.
func isUnknown(v any) bool {
	_, ok := v.(Unknown)
	return ok
}

// plain turns a Pulumi property value into the neutral model's plain values:
// bool, float64, string, []any, map[string]any, nil or Unknown. Secrets are
// unwrapped (policies judge the value, they never print secrets they do not
// need), unknowns become Unknown, assets and archives become their path or
// URI, and a resource reference becomes its URN.
func plain(v property.Value) any {
	switch {
	case v.IsComputed():
		return Unknown{}
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.AsBool()
	case v.IsNumber():
		return v.AsNumber()
	case v.IsString():
		return v.AsString()
	case v.IsArray():
		arr := v.AsArray()
		out := make([]any, 0, arr.Len())
		for _, e := range arr.All {
			out = append(out, plain(e))
		}
		return out
	case v.IsMap():
		return plainMap(v.AsMap())
	case v.IsAsset():
		a := v.AsAsset()
		return firstNonEmpty(a.Path, a.URI, "asset")
	case v.IsArchive():
		a := v.AsArchive()
		return firstNonEmpty(a.Path, a.URI, "archive")
	case v.IsResourceReference():
		return string(v.AsResourceReference().URN)
	}
	return fmt.Sprintf("%v", v)
}

// plainMap converts a property map; it never returns nil, so checks can index it.
func plainMap(m property.Map) map[string]any {
	out := make(map[string]any, m.Len())
	for k, v := range m.All {
		out[k] = plain(v)
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// lookup walks v along path: a string key indexes a map, an int indexes a
// slice. It stops at an Unknown and returns it, because an unknown object may
// hold anything. ok is false when a step is missing or the value is null.
func lookup(v any, path ...any) (any, bool) {
	for _, step := range path {
		if isUnknown(v) {
			return v, true
		}
		switch s := step.(type) {
		case string:
			m, isMap := v.(map[string]any)
			if !isMap {
				return nil, false
			}
			next, ok := m[s]
			if !ok {
				return nil, false
			}
			v = next
		case int:
			arr, isArr := v.([]any)
			if !isArr || s < 0 || s >= len(arr) {
				return nil, false
			}
			v = arr[s]
		default:
			return nil, false
		}
	}
	return v, v != nil
}

// asString returns v as a string and whether it is one.
func asString(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// asList returns v as a list; a missing value is an empty list.
func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
