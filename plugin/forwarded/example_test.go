package forwarded_test

import (
	"fmt"

	"github.com/client-ip-guard/client-ip-guard/plugin/forwarded"
)

// RFC 7239 quotes IPv6 nodes and nodes with ports; "unknown" and
// obfuscated nodes carry no address.
func ExampleParse() {
	els, err := forwarded.Parse(`for=192.0.2.60;proto=http, for="[2001:db8::17]:4711", for=unknown`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range els {
		fmt.Println(e.For.Addr, e.For.Port, e.For.IsIP())
	}
	// Output:
	// 192.0.2.60 0 true
	// 2001:db8::17 4711 true
	// invalid IP 0 false
}

// An unquoted IPv6 node is not RFC 7239: the whole header is refused
// rather than guessed at.
func ExampleParse_unquotedIPv6() {
	_, err := forwarded.Parse("for=2001:db8::17")
	fmt.Println(err != nil)
	// Output: true
}
