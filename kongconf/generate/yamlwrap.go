package generate

import yamlv2 "go.yaml.in/yaml/v2"

func init() {
	// sigs.k8s.io/yaml emits through go.yaml.in/yaml/v2, which folds long
	// strings at 80 columns; a folded start_cmd or proxy_listen is valid YAML
	// but hard to read and to grep, so switch folding off.
	yamlv2.FutureLineWrap()
}
