package lint

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// dockerfileWhere names a Dockerfile's node.
const dockerfileWhere = "Dockerfile ENV"

// dockerStage is one FROM stage, its ENV variables and the .conf files it
// copies into the image.
type dockerStage struct {
	name, base string
	vars       []envVar
	confs      []string
}

// ParseDockerfile reads the ENV instructions of a Dockerfile (ENV k=v ...
// and the legacy ENV k v form, '\' continuation lines, comment lines inside
// them) and returns the node of the final stage, including the ENV of the
// stages it is built FROM. It returns nil when no KONG_* variable is set.
func ParseDockerfile(data []byte, file string) (*Node, []Finding) {
	var s sink
	var stages []*dockerStage
	cur := &dockerStage{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var lines []string // physical lines of the instruction being read
	var lineNos []int  // and their line numbers
	start, line := 0, 0
	flush := func() {
		if len(lines) == 0 {
			return
		}
		instr := strings.Join(lines, " ")
		f := strings.Fields(instr)
		switch strings.ToUpper(f[0]) {
		case "FROM":
			cur = &dockerStage{}
			args := f[1:]
			for len(args) > 0 && strings.HasPrefix(args[0], "--") {
				args = args[1:]
			}
			if len(args) > 0 {
				cur.base = args[0]
			}
			if len(args) >= 3 && strings.EqualFold(args[1], "as") {
				cur.name = args[2]
			}
			stages = append(stages, cur)
		case "COPY", "ADD":
			cur.confs = append(cur.confs, copiedConfs(file, f[1:])...)
		case "ENV":
			rest := strings.TrimSpace(instr[len(f[0]):])
			vars, err := dockerEnv(rest)
			if err != nil {
				s.add(ruleUnreadable, file, start, "ENV", fmt.Sprintf("ENV %s: %v", rest, err))
			}
			for _, v := range vars {
				v.File, v.Line = file, lineNos[lineOf(lines, v.Name)]
				cur.vars = append(cur.vars, v)
			}
		}
		lines, lineNos = nil, nil
	}
	for sc.Scan() {
		line++
		l := strings.TrimRight(strings.TrimSuffix(sc.Text(), "\r"), " \t")
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") || t == "" && len(lines) > 0 {
			continue // comments and blank lines inside a continuation are dropped
		}
		if t == "" {
			continue
		}
		if len(lines) == 0 {
			start = line
		}
		lineNos = append(lineNos, line)
		if strings.HasSuffix(l, "\\") {
			lines = append(lines, strings.TrimSuffix(l, "\\"))
			continue
		}
		lines = append(lines, l)
		flush()
	}
	flush()
	if len(stages) == 0 {
		stages = append(stages, cur)
	}
	vars, confs := stageVars(stages, len(stages)-1, 0)
	n := envNode(file, "env", vars)
	if n == nil && len(confs) > 0 {
		n = NewNode(file, "env") // no ENV, but the image's kong.conf
		n.finishListeners()
	}
	if n != nil {
		n.Where, n.refs = dockerfileWhere, confs
	}
	return n, s.findings
}

// copiedConfs returns the .conf sources of a COPY/ADD instruction (not
// --from another stage or image), relative to the Dockerfile's directory.
func copiedConfs(file string, args []string) []string {
	var srcs []string
	for _, a := range args {
		if strings.HasPrefix(a, "--from") {
			return nil
		}
		if !strings.HasPrefix(a, "--") {
			srcs = append(srcs, a)
		}
	}
	var out []string
	for i, src := range srcs {
		if i < len(srcs)-1 && strings.HasSuffix(src, ".conf") && !templated(src) {
			out = append(out, filepath.Clean(filepath.Join(filepath.Dir(file), src)))
		}
	}
	return out
}

// stageVars returns the ENV and copied .conf files of stage i after those
// of the stage it is built FROM, when that is an earlier stage of the file.
func stageVars(stages []*dockerStage, i, depth int) ([]envVar, []string) {
	st := stages[i]
	var vars []envVar
	var confs []string
	for j := 0; j < i && depth < 16; j++ {
		if stages[j].name != "" && stages[j].name == st.base {
			vars, confs = stageVars(stages, j, depth+1)
			break
		}
	}
	return append(vars, st.vars...), append(confs, st.confs...)
}

// lineOf returns the index of the first physical line containing sub.
func lineOf(lines []string, sub string) int {
	for i, l := range lines {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return 0
}

// dockerEnv parses the arguments of ENV: key=value pairs with shell-style
// quoting, or the legacy "key value" form where the rest is the value.
func dockerEnv(rest string) ([]envVar, error) {
	words, err := shellWords(rest)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no variable")
	}
	if !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(rest, " ")
		return []envVar{{Name: k, Value: unquote(strings.TrimSpace(v))}}, nil
	}
	var out []envVar
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return out, fmt.Errorf("%q is not key=value", w)
		}
		out = append(out, envVar{Name: k, Value: v})
	}
	return out, nil
}

// shellWords splits s into words, honouring "..." and '...' quoting and
// backslash escapes as Docker's ENV parser does.
func shellWords(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
			in = true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return out, fmt.Errorf("unterminated %c quote", quote)
	}
	if in {
		out = append(out, b.String())
	}
	return out, nil
}
