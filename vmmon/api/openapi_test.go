package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"gopkg.in/yaml.v3"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// openapi.yaml describes exactly the routes the server has.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	readOpenAPI(t, &doc)
	var documented, served []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	s := New(Config{})
	_ = s.router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := r.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, _ := r.GetMethods()
		for _, m := range methods {
			if m == "HEAD" || path == "/v1/" {
				continue
			}
			served = append(served, m+" "+path)
		}
		return nil
	})
	sort.Strings(documented)
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Errorf("openapi.yaml and the router differ:\ndocumented:\n%s\n\nserved:\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}
}

// responseTypes names the Go type of every JSON body openapi.yaml documents,
// errors aside (errorsResponse, checked against components/responses/Error).
var responseTypes = []struct {
	method, path, status string
	body                 any
}{
	{"get", "/", "200", versionsResponse{}},
	{"get", "/v1", "200", versionResponse{}},
	{"get", "/v1/instances", "200", instancesResponse{}},
	{"get", "/v1/instances/{id}", "200", instanceResponse{}},
	{"get", "/v1/instances/{id}/metrics", "200", metricsResponse{}},
	{"get", "/v1/instances/{id}/metrics/{name}/measures", "200", measuresResponse{}},
	{"get", "/v1/instances/{id}/events", "200", eventsResponse{}},
	{"post", "/v1/instances/{id}/actions", "202", actionResponse{}},
	{"get", "/v1/instances/{id}/actions", "200", actionsResponse{}},
	{"get", "/v1/instances/{id}/actions/{action_id}", "200", actionResponse{}},
	{"get", "/v1/hosts", "200", hostsResponse{}},
	{"get", "/v1/hosts/{host}", "200", hostResponse{}},
	{"get", "/v1/aggregates", "200", aggregatesResponse{}},
	{"get", "/v1/aggregates/measures", "200", aggregateMeasuresResponse{}},
	{"post", "/v1/alarms", "201", alarmResponse{}},
	{"get", "/v1/alarms", "200", alarmsResponse{}},
	{"get", "/v1/alarms/{id}", "200", alarmResponse{}},
	{"patch", "/v1/alarms/{id}", "200", alarmResponse{}},
	{"get", "/v1/alarms/{id}/history", "200", alarmHistoryResponse{}},
}

// readOpenAPI reads openapi.yaml into v.
func readOpenAPI(t *testing.T, v any) {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// openAPIDoc is openapi.yaml as plain maps, lists and scalars.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	readOpenAPI(t, &doc)
	return doc
}

// lookup follows keys from node, and any $ref met on the way.
func lookup(doc map[string]any, node any, keys ...string) map[string]any {
	m := resolve(doc, node)
	for _, k := range keys {
		if m == nil {
			return nil
		}
		m = resolve(doc, m[k])
	}
	return m
}

// resolve follows a local $ref ("#/components/schemas/Host").
func resolve(doc map[string]any, node any) map[string]any {
	m, _ := node.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m = doc
		for _, k := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ = m[k].(map[string]any)
		}
	}
	return nil
}

// jsonField is one key encoding/json writes for a struct.
type jsonField struct {
	typ       reflect.Type
	omitempty bool
}

// jsonFields lists the keys encoding/json writes for struct type typ.
func jsonFields(typ reflect.Type) map[string]jsonField {
	out := map[string]jsonField{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = jsonField{f.Type, strings.Contains(","+opts+",", ",omitempty,")}
	}
	return out
}

var (
	timeType      = reflect.TypeOf(time.Time{})
	marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
)

// schemaMismatches compares the JSON encoding/json writes for typ with
// schema: the same keys as its properties, no required key left out by
// omitempty, and compatible types, down through objects and arrays.
func schemaMismatches(doc map[string]any, where string, typ reflect.Type, schema map[string]any) []string {
	if schema == nil {
		return []string{where + ": no schema"}
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want, _ := schema["type"].(string)
	var got string
	switch {
	case typ == timeType:
		got = "string"
	case typ.Implements(marshalerType) || reflect.PointerTo(typ).Implements(marshalerType):
		return nil // raw JSON: whatever the schema says
	default:
		switch typ.Kind() {
		case reflect.Struct:
			got = "object"
		case reflect.Slice, reflect.Array:
			got = "array"
		case reflect.String:
			got = "string"
		case reflect.Bool:
			got = "boolean"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			got = "integer"
		case reflect.Float32, reflect.Float64:
			got = "number"
		default:
			return nil // maps and interfaces: free-form
		}
	}
	if want != got && !(want == "" && got == "object") && !(want == "number" && got == "integer") {
		return []string{fmt.Sprintf("%s: %s (%s) in Go, %q in openapi.yaml", where, got, typ, want)}
	}
	var out []string
	switch got {
	case "array":
		out = append(out, schemaMismatches(doc, where+"[]", typ.Elem(), resolve(doc, schema["items"]))...)
	case "object":
		props, _ := schema["properties"].(map[string]any)
		if props == nil {
			return nil // a free-form object
		}
		fields := jsonFields(typ)
		for name, f := range fields {
			if _, ok := props[name]; !ok {
				out = append(out, fmt.Sprintf("%s: %s has %q, not a property in openapi.yaml", where, typ, name))
				continue
			}
			out = append(out, schemaMismatches(doc, where+"."+name, f.typ, resolve(doc, props[name]))...)
		}
		for name := range props {
			if _, ok := fields[name]; !ok {
				out = append(out, fmt.Sprintf("%s: property %q of openapi.yaml is not a field of %s", where, name, typ))
			}
		}
		required, _ := schema["required"].([]any)
		for _, r := range required {
			name, _ := r.(string)
			if f, ok := fields[name]; ok && f.omitempty {
				out = append(out, fmt.Sprintf("%s: %q is required in openapi.yaml but omitempty in %s", where, name, typ))
			}
		}
	}
	sort.Strings(out)
	return out
}

// The response types and openapi.yaml's response schemas have the same
// fields, and every documented JSON body has a type.
func TestOpenAPIMatchesResponseTypes(t *testing.T) {
	doc := openAPIDoc(t)
	listed := map[string]bool{}
	for _, rt := range responseTypes {
		where := strings.ToUpper(rt.method) + " " + rt.path + " " + rt.status
		listed[where] = true
		schema := lookup(doc, doc, "paths", rt.path, rt.method, "responses", rt.status, "content", "application/json", "schema")
		for _, m := range schemaMismatches(doc, where, reflect.TypeOf(rt.body), schema) {
			t.Error(m)
		}
	}
	errSchema := lookup(doc, doc, "components", "responses", "Error", "content", "application/json", "schema")
	for _, m := range schemaMismatches(doc, "Error", reflect.TypeOf(errorsResponse{}), errSchema) {
		t.Error(m)
	}
	paths, _ := doc["paths"].(map[string]any)
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			responses, _ := op.(map[string]any)["responses"].(map[string]any)
			for status, resp := range responses {
				where := strings.ToUpper(method) + " " + path + " " + status
				if ref, _ := resp.(map[string]any)["$ref"].(string); ref != "" {
					if ref != "#/components/responses/Error" {
						t.Errorf("%s: response %s has no Go type to check", where, ref)
					}
					continue
				}
				if lookup(doc, resp, "content", "application/json") != nil && !listed[where] {
					t.Errorf("%s: a JSON body without a Go type in responseTypes", where)
				}
			}
		}
	}
}

// schemaMismatches notices a field added on one side only.
func TestSchemaMismatchesSeesOneSidedFields(t *testing.T) {
	doc := openAPIDoc(t)
	host := lookup(doc, doc, "components", "schemas", "Host")
	if m := schemaMismatches(doc, "Host", reflect.TypeOf(hostView{}), host); len(m) != 0 {
		t.Fatalf("hostView: %v", m)
	}
	type extra struct {
		hostView
		Extra int `json:"extra"`
	}
	if m := schemaMismatches(doc, "Host", reflect.TypeOf(extra{}), host); len(m) != 1 || !strings.Contains(m[0], `"extra"`) {
		t.Errorf("a field missing from openapi.yaml: %v", m)
	}
	fewer := map[string]any{}
	for k, v := range host {
		fewer[k] = v
	}
	props := map[string]any{"added": map[string]any{"type": "string"}}
	for k, v := range host["properties"].(map[string]any) {
		if k != "stream" {
			props[k] = v
		}
	}
	fewer["properties"] = props
	m := schemaMismatches(doc, "Host", reflect.TypeOf(hostView{}), fewer)
	if len(m) != 2 || !strings.Contains(strings.Join(m, "\n"), `"stream"`) || !strings.Contains(strings.Join(m, "\n"), `"added"`) {
		t.Errorf("a property missing from hostView, and one added to openapi.yaml: %v", m)
	}
	type omitted struct {
		Name string `json:"name,omitempty"`
	}
	m = schemaMismatches(doc, "Host", reflect.TypeOf(omitted{}), map[string]any{"type": "object", "required": []any{"name"},
		"properties": map[string]any{"name": map[string]any{"type": "string"}}})
	if len(m) != 1 || !strings.Contains(m[0], "omitempty") {
		t.Errorf("a required property left out when empty: %v", m)
	}
}

// measuresResponse, the documented type, is what appendMeasures writes.
func TestMeasuresResponseIsWhatAppendMeasuresWrites(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	mq := storage.MeasureQuery{Metric: "disk.read.bytes.rate", Start: at, End: at.Add(time.Hour), Granularity: time.Hour, Aggregation: "max"}
	series := []storage.Series{{Device: "vda", Unit: "B/s", Points: []storage.Point{{Time: at, Value: 1.5}}}, {Unit: "B/s"}}
	got, err := appendMeasures(nil, mq, series)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(measuresResponse{Measures: measuresView{Metric: mq.Metric, Start: mq.Start, End: mq.End,
		Granularity: int64(mq.Granularity.Seconds()), Aggregation: mq.Aggregation, Series: series}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("appendMeasures:\n%s\nmeasuresResponse:\n%s", got, want.Bytes())
	}
}
