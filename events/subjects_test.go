package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/events"
)

func TestValidateClusterName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ok   bool
	}{
		{"duck-1", true},
		{"Trino_Prod", true},
		{"a", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"a.b", false}, // would add a subject token
		{"a*", false},  // subject wildcard
		{"a>", false},  // subject wildcard
		{"a b", false}, // whitespace
		{"a/b", false}, // not a KV key character we allow
		{"zürich", false},
		{"duck-1\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := events.ValidateClusterName(c.name)
			if c.ok && err != nil {
				t.Errorf("ValidateClusterName(%q) = %v, want nil", c.name, err)
			}
			if !c.ok && !errors.Is(err, events.ErrInvalidName) {
				t.Errorf("ValidateClusterName(%q) = %v, want ErrInvalidName", c.name, err)
			}
			if c.ok {
				// A valid name yields a single-token suffix of the fragment subject.
				subj := events.FragmentSubject(c.name)
				if subj != events.SubjectFragmentPrefix+c.name || strings.Count(subj, ".") != strings.Count(events.SubjectFragmentPrefix, ".") {
					t.Errorf("FragmentSubject(%q) = %q", c.name, subj)
				}
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		subject  string
		terminal bool
	}{
		{events.SubjectFinished, true},
		{events.SubjectFailed, true},
		{events.SubjectCanceled, true},
		{events.SubjectRejected, true},
		{events.SubjectSubmitted, false},
		{events.SubjectCancelRequested, false},
		{events.SubjectAdmitted, false},
		{events.SubjectPlaced, false},
		{events.SubjectStarted, false},
		{events.SubjectQueryAll, false},
		{events.FragmentSubject("duck-1"), false},
		{"", false},
		{strings.ToUpper(events.SubjectFinished), false},
	}
	for _, c := range cases {
		if got := events.IsTerminal(c.subject); got != c.terminal {
			t.Errorf("IsTerminal(%q) = %v, want %v", c.subject, got, c.terminal)
		}
	}
	if len(events.TerminalSubjects) != 4 {
		t.Errorf("TerminalSubjects = %v, want the four terminal subjects", events.TerminalSubjects)
	}
}

// TestMsgIDs checks the dedup keys are deterministic and distinct per step, and that every
// terminal event shares one key.
func TestMsgIDs(t *testing.T) {
	t.Parallel()
	const q = "20250314_000000_00001_abcde"
	ids := []string{
		events.MsgIDSubmitted(q),
		events.MsgIDCancelRequested(q),
		events.MsgIDAdmitted(q),
		events.MsgIDPlaced(q, 1),
		events.MsgIDPlaced(q, 2),
		events.MsgIDStarted(q, 1),
		events.MsgIDStarted(q, 2),
		events.MsgIDTerminal(q),
		events.MsgIDFragment(q, "f0", 1),
		events.MsgIDFragment(q, "f0", 2),
		events.MsgIDFragment(q, "f1", 1),
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !strings.HasPrefix(id, q+":") {
			t.Errorf("msg id %q does not start with the query id", id)
		}
		if seen[id] {
			t.Errorf("msg id %q is not unique", id)
		}
		seen[id] = true
	}
	if a, b := events.MsgIDTerminal(q), events.MsgIDTerminal(strings.Clone(q)); a != b {
		t.Errorf("MsgIDTerminal is not deterministic: %q, %q", a, b)
	}
	if events.MsgIDTerminal(q) == events.MsgIDTerminal(q+"x") {
		t.Errorf("MsgIDTerminal does not depend on the query id")
	}
	if got := events.ExecutorConsumer("duck-1"); got != "executor-duck-1" {
		t.Errorf("ExecutorConsumer = %q", got)
	}
}
