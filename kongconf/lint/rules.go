package lint

// Rule IDs. Grouped: KC0xx node settings, KC1xx Kubernetes Service / load
// balancer, KC2xx plugin configuration and decK, KC3xx pluginserver wiring,
// KC9xx input problems.
var rules = map[string]Rule{}

func rule(id string, sev Severity, title, why, fix string) string {
	if _, dup := rules[id]; dup {
		panic("lint: rule " + id + " defined twice") // two branches took the same free ID
	}
	rules[id] = Rule{ID: id, Severity: sev, Title: title, Why: why, Fix: fix}
	return id
}

var (
	ruleListenFlagMissing = rule("KC001", Error, "real_ip_header=proxy_protocol without a proxy_protocol listener",
		"nginx only parses a PROXY header on listeners flagged proxy_protocol; without one the LB's PROXY line is read as an HTTP request (400 'broken header') and realip never uses it",
		"add proxy_protocol to every proxy_listen entry the load balancer reaches (Helm: proxy.http.parameters / proxy.tls.parameters)")
	ruleListenFlagUnused = rule("KC002", Warning, "proxy_protocol listener but real_ip_header is not proxy_protocol",
		"Kong strips the PROXY header but keeps the load balancer as the client address",
		"set real_ip_header = proxy_protocol (or drop the listener flag if the LB sends no PROXY header)")
	ruleTrustAllHeaders = rule("KC003", Error, "trusted_ips trusts everyone with a header-based client IP",
		"with 0.0.0.0/0,::/0 any client can pick its own address by sending the header",
		"list only the load balancer / VPC / CDN ranges in trusted_ips (kongconf generate --trusted-cidr/--preset)")
	ruleTrustAllPP = rule("KC004", Warning, "trusted_ips trusts everyone",
		"Kong also honours X-Forwarded-Proto/Host/Port from every peer; safe only if the load balancer is the only way in",
		"list only the load balancer / VPC ranges in trusted_ips")
	ruleDoublePrefix = rule("KC005", Error, "KONG_KONG_ double prefix",
		"Helm env keys and env files already get KONG_ prepended/expected once; KONG_KONG_TRUSTED_IPS is ignored by Kong",
		"write Helm env keys without the prefix (env.trusted_ips) and env-file keys with exactly one (KONG_TRUSTED_IPS)")
	ruleNearMissKey = rule("KC006", Error, "misspelled Kong property",
		"Kong ignores the unknown key, so the intended setting silently keeps its default",
		"rename the key to the suggested property")
	ruleUnknownKey = rule("KC007", Info, "unknown Kong property",
		"Kong does not know this key and will ignore it",
		"check the spelling against kong.conf.default or remove it")
	ruleBadTrustedIP = rule("KC008", Error, "invalid trusted_ips entry",
		"Kong refuses to start: trusted_ips takes IPv4/IPv6 addresses, CIDR blocks or unix:, no hostnames",
		"fix or remove the entry")
	ruleBadBoolean = rule("KC009", Error, "real_ip_recursive is not on/off",
		"real_ip_recursive is an nginx boolean; anything but on/off stops Kong from starting",
		"use on or off (quote them in YAML: \"on\")")
	ruleNoTrusted = rule("KC010", Warning, "client-IP header configured but trusted_ips is empty",
		"realip only replaces the address for peers in trusted_ips, so real_ip_header/real_ip_recursive have no effect",
		"set trusted_ips to the load balancer / proxy ranges")
	ruleForwardedHeader = rule("KC011", Warning, "real_ip_header = Forwarded",
		"nginx realip cannot parse RFC 7239 Forwarded; Kong keeps the peer address (only client-ip-guard understands Forwarded)",
		"use X-Forwarded-For on Kong, or keep Forwarded in the plugin config only and accept the difference")
	ruleYAMLBool = rule("KC012", Error, "unquoted on/off/yes/no in Helm values",
		"YAML 1.1 (Helm) turns an unquoted on/off/yes/no into true/false, so Kong receives true/false instead of the value written",
		"quote the value: real_ip_recursive: \"on\"")
	ruleRecursiveSingle = rule("KC013", Info, "real_ip_recursive = on with a single-address header",
		"recursion only matters for list headers such as X-Forwarded-For",
		"set real_ip_recursive = off for X-Real-IP / CF-Connecting-IP")
	ruleXFFNotRecursive = rule("KC014", Warning, "X-Forwarded-For without real_ip_recursive",
		"nginx takes the rightmost X-Forwarded-For entry; with more than one trusted hop that is a proxy, not the client",
		"set real_ip_recursive = on and trust every proxy hop")

	rulePPOneSided = rule("KC101", Error, "PROXY protocol enabled on only one side",
		"when the load balancer and Kong disagree about PROXY protocol, every request fails ('broken header' or a garbage request line)",
		"enable PROXY on the load balancer annotation and the Kong listeners together, or on neither")
	rulePLSLocal = rule("KC102", Error, "Azure Private Link PROXY with externalTrafficPolicy: Local",
		"the LB then probes kube-proxy's healthCheckNodePort, which does not speak PROXY, so every node is marked down",
		"use externalTrafficPolicy: Cluster with azure-pls-proxy-protocol")
	ruleGFENotTrusted = rule("KC103", Error, "GKE L7 load balancer without the Google front-end ranges trusted",
		"the Google front ends connect from 35.191.0.0/16 and 130.211.0.0/22; untrusted, Kong ignores X-Forwarded-For and every client looks like a GFE",
		"add 35.191.0.0/16,130.211.0.0/22 (kongconf preset gcp-lb) and the LB's own IP to trusted_ips")
	ruleTLSBehindL7 = rule("KC104", Warning, "TLS on Kong behind an L7 load balancer",
		"the L7 load balancer terminates TLS; Kong's certificate is never presented to clients and an HTTP backend aimed at 8443 fails the handshake",
		"disable Kong's TLS proxy port (Helm proxy.tls.enabled: false) or make the load balancer re-encrypt on purpose")
	ruleHealthCheckPP = rule("KC105", Error, "HTTP health check against a PROXY port",
		"load balancer health checks do not send a PROXY header, so HTTP(S) checks on a proxy_protocol listener fail and targets go unhealthy",
		"use TCP health checks, or point them at a port without proxy_protocol (e.g. the status listener)")
	ruleHealthCheckTCPNoise = rule("KC106", Info, "TCP health checks on a PROXY port",
		"the checks pass but every probe logs 'broken header' in Kong's error log",
		"accept the noise or check a separate port without proxy_protocol")
	ruleLocalOnClusterIP = rule("KC107", Error, "externalTrafficPolicy on a ClusterIP Service",
		"Kubernetes rejects externalTrafficPolicy unless the Service is NodePort or LoadBalancer",
		"drop externalTrafficPolicy or change the Service type")
	ruleSNAT = rule("KC108", Warning, "Cluster-policy Service loses the client address",
		"with externalTrafficPolicy: Cluster and no PROXY protocol, kube-proxy SNATs and Kong sees node addresses; a header from a proxy in front does not help while trusted_ips names only the proxy, because the node becomes the peer",
		"set externalTrafficPolicy: Local, or enable PROXY protocol on the load balancer and Kong")
	ruleAWSPPValue = rule("KC109", Error, "invalid aws-load-balancer-proxy-protocol value",
		"the AWS controllers only accept \"*\"; other values are ignored or rejected",
		"set service.beta.kubernetes.io/aws-load-balancer-proxy-protocol: \"*\"")
	ruleTLSParamsDropHTTP2 = rule("KC110", Info, "TLS listener loses http2 when proxy_protocol is added",
		"rewriting the TLS listener (proxy.tls.parameters, or proxy_listen copied from a PROXY example) drops Kong's default http2, so HTTP/2 is off on the TLS port",
		"keep http2: proxy.tls.parameters: [http2, proxy_protocol], or '0.0.0.0:8443 http2 ssl proxy_protocol'")
	ruleListenDrift = rule("KC111", Warning, "env.proxy_listen overrides the chart's listeners",
		"the chart builds KONG_PROXY_LISTEN from proxy.http/proxy.tls; an explicit env.proxy_listen wins and can drift from the Service ports",
		"remove env.proxy_listen and use proxy.http.parameters / proxy.tls.parameters")
	ruleNLBIP = rule("KC112", Warning, "IP-target NLB without PROXY protocol",
		"NLB IP targets do not preserve the client address, so Kong sees the NLB's private address",
		"enable aws-load-balancer-proxy-protocol: \"*\" (and proxy_protocol on Kong), or use instance targets with externalTrafficPolicy: Local")

	rulePluginDrift = rule("KC201", Error, "plugin config disagrees with Kong's realip settings",
		"client-ip-guard recomputes the address from its own trusted_ips/real_ip_header/real_ip_recursive; a mismatch makes every request a config_drift verdict",
		"generate both from one topology (kongconf generate) or copy Kong's values into the plugin config")
	rulePluginUnknownKey = rule("KC202", Error, "unknown client-ip-guard config key",
		"Kong validates plugin config against the plugin schema and rejects unknown fields",
		"rename or remove the key")
	rulePluginBadValue = rule("KC203", Error, "invalid client-ip-guard config value",
		"the plugin rejects the config or falls back to a default",
		"use a value the plugin accepts")
	ruleKCPNotGlobal = rule("KC204", Warning, "KongClusterPlugin without label global: \"true\"",
		"KIC applies a KongClusterPlugin globally only with that label; otherwise it runs only where referenced by konghq.com/plugins",
		"add metadata.labels.global: \"true\" (or reference the plugin explicitly)")
	ruleKCPNoClass = rule("KC205", Warning, "KongClusterPlugin without an ingress class annotation",
		"KIC ignores cluster plugins without kubernetes.io/ingress.class unless its class is the cluster default",
		"add metadata.annotations kubernetes.io/ingress.class: kong")
	ruleDeckFormat = rule("KC206", Error, "missing or unsupported _format_version",
		"Kong 3.x loads only _format_version 1.1, 2.1 or 3.0 and requires it to be a string",
		"set _format_version: \"3.0\"")
	ruleDeckEnterpriseField = rule("KC207", Warning, "Enterprise-only plugin field in kong.yml",
		"Kong OSS rejects ordering and consumer_group on plugins",
		"remove the field or target Kong Enterprise")
	rulePluginTrustAll = rule("KC208", Error, "plugin trusts every peer with a header-based address",
		"the plugin's trusted_ips 0.0.0.0/0,::/0 lets any client choose the address the plugin judges",
		"list only the proxy ranges in the plugin's trusted_ips")
	ruleBadStrict = rule("KC209", Error, "object does not match its schema",
		"strict decoding into the Kubernetes / KIC types failed, so the API server or KIC would reject or misread it",
		"fix the field named in the message")

	rulePluginNotLoaded = rule("KC301", Error, "client-ip-guard not enabled in plugins",
		"Kong refuses plugin entities whose name is not in plugins ('plugin ... not enabled')",
		"set plugins = bundled,client-ip-guard (Helm: plugins.preInstalled: client-ip-guard)")
	rulePluginServerMissing = rule("KC302", Error, "client-ip-guard not in pluginserver_names",
		"without a pluginserver entry Kong cannot start or query the Go plugin",
		"set pluginserver_names = client-ip-guard and its _start_cmd/_query_cmd")
	rulePrefixMismatch = rule("KC303", Error, "pluginserver socket and -kong-prefix disagree",
		"the Go plugin listens on <-kong-prefix>/client-ip-guard.socket while Kong dials pluginserver_<name>_socket (default <prefix>/<name>.socket); if they differ Kong cannot reach it",
		"pass -kong-prefix equal to Kong's prefix (/kong_prefix under the Helm chart)")
	ruleQueryCmd = rule("KC304", Warning, "pluginserver query_cmd does not dump the schema",
		"Kong runs query_cmd to read the plugin schema; without -dump the plugin's config cannot be validated",
		"set pluginserver_client_ip_guard_query_cmd = /usr/local/bin/client-ip-guard -dump")

	ruleUnreadable = rule("KC901", Error, "file cannot be read or parsed",
		"lint cannot check what it cannot parse",
		"fix the syntax error")
	ruleUnknownFile = rule("KC902", Info, "unrecognised file",
		"lint reads kong.conf, env files, Dockerfiles, docker-compose files, Helm values (also inside Argo CD, Flux and k3s objects), Chart.yaml, Kubernetes workloads, ConfigMaps, Secrets, Services, Ingresses, GKE BackendConfigs, Kong Gateway Operator objects, kong.yml and Kong plugin objects; nothing here is one of them or sets Kong's settings",
		"nothing to do if this is not about Kong; otherwise see \"What lint reads\" in kongconf/README.md")
)

var ruleDeckStructure = rule("KC210", Error, "kong.yml structure problem",
	"Kong's declarative loader (and decK's schema) rejects the file",
	"fix the entity named in the message")

var (
	ruleBadListen = rule("KC015", Error, "invalid proxy_listen",
		"Kong refuses to start when a proxy_listen entry has an unknown flag or a bad address",
		"use <ip>:<port> followed by ssl, http2, proxy_protocol, deferred, bind, reuseport, backlog=N, ipv6only=, so_keepalive=")
	ruleNodeRejected = rule("KC016", Error, "Kong's loader rejects this configuration",
		"Kong would stop at startup with this error",
		"fix the setting named in the message")
	ruleLowerEnv = rule("KC017", Error, "KONG_ variable with lower-case letters",
		"Kong looks up KONG_<UPPER-CASE KEY> only, so this variable is never read",
		"write the variable name in upper case")
)

var ruleNoEquals = rule("KC018", Warning, "kong.conf line without '='",
	"Kong's reader silently ignores lines that are not key = value",
	"write the line as key = value")

var (
	// RuleLiveRejected is reported by doctor when Kong's schema validation refuses a config.
	RuleLiveRejected = rule("KC305", Error, "Kong rejects the client-ip-guard config",
		"POST /schemas/plugins/validate failed, so Kong would refuse to create or load this plugin",
		"fix the field named in Kong's message (kongconf generate produces a config that matches the plugin schema)")
	// RuleNotAvailable is reported by doctor when the node has not loaded the plugin.
	RuleNotAvailable = rule("KC306", Error, "client-ip-guard not available on the node",
		"plugins.available_on_server has no client-ip-guard: the Go plugin binary, plugins= or the pluginserver settings are missing",
		"install the binary and set KONG_PLUGINS=bundled,client-ip-guard plus KONG_PLUGINSERVER_NAMES and _START_CMD/_QUERY_CMD (kongconf generate -o pluginserver-env)")
)

// Add records a finding of rule id; doctor uses it for live checks.
func Add(findings []Finding, id, file string, line int, key, msg string) []Finding {
	s := sink{findings: findings}
	s.add(id, file, line, key, msg)
	return s.findings
}

var ruleDOHairpin = rule("KC113", Info, "DigitalOcean PROXY protocol without do-loadbalancer-hostname",
	"kube-proxy short-circuits in-cluster requests to the LB address, so they reach Kong without a PROXY header and fail with 'broken header'",
	"set service.beta.kubernetes.io/do-loadbalancer-hostname to a DNS name pointing at the load balancer")

var ruleOtherChart = rule("KC903", Info, "values for Bitnami's kong chart",
	"Bitnami's chart names its settings differently from Kong's (kong.extraEnvVars, service.*, no env.* or proxy.*); lint read those, and kongconf generate writes values for Kong's chart only",
	"set KONG_* variables in kong.extraEnvVars and the load balancer in service.*, or move to Kong's chart (charts.konghq.com)")

var (
	ruleDefaultHeader = rule("KC019", Warning, "trusted_ips set while real_ip_header stays X-Real-IP",
		"real_ip_header defaults to X-Real-IP; most L7 proxies append X-Forwarded-For and pass a client's own X-Real-IP through, so Kong either keeps the proxy's address or believes a forged X-Real-IP",
		"set real_ip_header to the header the proxy writes (X-Forwarded-For with real_ip_recursive = on, or proxy_protocol)")
	ruleInlineComment = rule("KC020", Warning, "inline # kept in an env-file value",
		"docker run --env-file, systemd EnvironmentFile and Kubernetes take everything after '=' as the value, the # comment too (only docker compose's env_file strips it)",
		"move the comment to its own line")
	ruleClassicELBLocal = rule("KC126", Warning, "Classic ELB in TCP/SSL mode with externalTrafficPolicy: Local and no PROXY",
		"a Classic ELB in TCP/SSL mode opens its own connection to the node, so Kong sees the ELB's address; Local stops kube-proxy's SNAT but not the ELB's",
		"enable PROXY protocol (aws-load-balancer-proxy-protocol: \"*\" and proxy_protocol on Kong), or use an NLB (aws-load-balancer-type: nlb) with Local")
	ruleTrustedNodes = rule("KC127", Warning, "trusted_ips covers the node network behind a Cluster-policy Service",
		"kube-proxy SNATs every connection to a node address; with the nodes trusted, any client reaching the load balancer can forge the client-IP header (a warning: lint assumes private ranges hold the nodes)",
		"set externalTrafficPolicy: Local (or use PROXY protocol) and trust only the proxy's own addresses")
)
