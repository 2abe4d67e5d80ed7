module github.com/client-ip-guard/client-ip-guard

go 1.25.0

require go4.org/netipx v0.0.0-20231129151722-fdeea329fbba

require (
	github.com/Kong/go-pdk v0.11.2 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/kong/go-kong v0.66.1 // indirect
	github.com/kong/kubernetes-configuration v1.4.0 // indirect
	github.com/pires/go-proxyproto v0.15.0 // indirect
	github.com/spf13/cobra v1.10.1 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	google.golang.org/protobuf v1.36.6 // indirect
	k8s.io/api v0.34.1 // indirect
	sigs.k8s.io/yaml v1.6.0 // indirect
)
