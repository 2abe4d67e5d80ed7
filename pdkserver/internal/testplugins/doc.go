// Package testplugins holds small go-pdk plugins that pdkserver's tests
// and benchmarks build and run over the real plugin socket. Each
// directory is one plugin; the binary's file name is its plugin name.
package testplugins
