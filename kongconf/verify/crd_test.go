package verify_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/client-ip-guard/client-ip-guard/internal/yamljson"
)

// crdSchema reads the openAPIV3Schema of version from a CRD file shipped in
// the kubernetes-configuration module (the version go.mod pins).
func crdSchema(t *testing.T, file, version string) *apiextensionsv1.JSONSchemaProps {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kong/kubernetes-configuration").Output()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), file))
	require.NoError(t, err)
	j, err := yamljson.ToJSON(b)
	require.NoError(t, err)
	var crd apiextensionsv1.CustomResourceDefinition
	require.NoError(t, json.Unmarshal(j, &crd))
	for _, v := range crd.Spec.Versions {
		if v.Name == version {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("%s has no version %s", file, version)
	return nil
}

// schemaErrors checks a JSON value against the structural parts of an
// OpenAPI v3 schema the way the API server prunes and validates: types,
// unknown fields (unless x-kubernetes-preserve-unknown-fields), required
// fields and enums. Formats, patterns and CEL rules are not evaluated; the
// generator honours the CEL rules that concern it (see generate/operator.go).
func schemaErrors(path string, v any, s *apiextensionsv1.JSONSchemaProps) []string {
	if s == nil {
		return nil
	}
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(f, a...)) }
	if len(s.Enum) > 0 {
		ok := false
		for _, e := range s.Enum {
			var ev any
			_ = json.Unmarshal(e.Raw, &ev)
			ok = ok || fmt.Sprint(ev) == fmt.Sprint(v)
		}
		if !ok {
			bad("%v is not one of the enum values", v)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if s.Type != "object" && !s.XIntOrString && s.Type != "" {
			bad("object where the schema has %s", s.Type)
			return errs
		}
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				bad("required field %s missing", r)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if path == "" && k == "metadata" {
				continue // ObjectMeta is validated by the API server itself, not the CRD schema
			}
			if p, ok := s.Properties[k]; ok {
				errs = append(errs, schemaErrors(path+"."+k, x[k], &p)...)
			} else if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
				errs = append(errs, schemaErrors(path+"."+k, x[k], s.AdditionalProperties.Schema)...)
			} else if !(s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields) && !(s.AdditionalProperties != nil && s.AdditionalProperties.Allows) && !s.XEmbeddedResource {
				bad("unknown field %s", k)
			}
		}
	case []any:
		if s.Type != "array" {
			bad("array where the schema has %s", s.Type)
			return errs
		}
		if s.Items != nil && s.Items.Schema != nil {
			for i, e := range x {
				errs = append(errs, schemaErrors(fmt.Sprintf("%s[%d]", path, i), e, s.Items.Schema)...)
			}
		}
	case string:
		if s.Type != "string" && !s.XIntOrString {
			bad("string where the schema has %s", s.Type)
		}
	case bool:
		if s.Type != "boolean" {
			bad("boolean where the schema has %s", s.Type)
		}
	case float64:
		if s.Type != "integer" && s.Type != "number" && !s.XIntOrString {
			bad("number where the schema has %s", s.Type)
		}
	}
	return errs
}

func TestSchemaErrorsCatchesMistakes(t *testing.T) {
	s := crdSchema(t, "config/crd/gateway-operator/gateway-operator.konghq.com_gatewayconfigurations.yaml", "v1beta1")
	var v any
	require.NoError(t, json.Unmarshal([]byte(`{"apiVersion":"x","kind":"GatewayConfiguration","metadata":{"name":"a"},
		"spec":{"dataPlaneOptions":{"network":{"services":{"ingress":{"type":"ExternalName","externalTraficPolicy":"Local"}}}}}}`), &v))
	errs := strings.Join(schemaErrors("", v, s), "\n")
	require.Contains(t, errs, "ExternalName is not one of the enum values")
	require.Contains(t, errs, "unknown field externalTraficPolicy")
	require.NotContains(t, errs, "metadata")
}
