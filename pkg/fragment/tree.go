package fragment

import "github.com/substrait-io/substrait-protobuf/go/substraitpb"

// node is one relation of a plan, indexed with its place in the tree.
type node struct {
	rel    *substraitpb.Rel
	path   string
	parent *node
	// edge is how the parent reaches this relation (input field or subquery kind).
	edge     child
	children []*node
	facts    exprFacts
	// need is how many subquery levels above this subtree its outer references reach
	// (0: the subtree is closed and can run on its own).
	need uint32
}

// tree indexes every relation of a plan, in pre-order.
type tree struct {
	root   *node
	nodes  []*node
	byPath map[string]*node
}

// newTree indexes the relation tree below root (whose path is path).
func newTree(root *substraitpb.Rel, path string) *tree {
	t := &tree{byPath: map[string]*node{}}
	t.root = t.add(root, path, nil, child{rel: root, path: path})
	return t
}

// add indexes r and its subtree and computes its need.
func (t *tree) add(r *substraitpb.Rel, path string, parent *node, edge child) *node {
	n := &node{rel: r, path: path, parent: parent, edge: edge}
	t.nodes = append(t.nodes, n)
	t.byPath[path] = n
	children, facts := scan(r, path)
	n.facts = facts
	n.need = facts.stepsOut
	for _, c := range children {
		cn := t.add(c.rel, c.path, n, c)
		n.children = append(n.children, cn)
		need := cn.need
		if c.subquery != "" && need > 0 {
			need--
		}
		if need > n.need {
			n.need = need
		}
	}
	return n
}

// closed reports whether the subtree at n references nothing outside itself.
func (n *node) closed() bool { return n.need == 0 }
