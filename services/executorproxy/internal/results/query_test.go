package results

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/events"
	"github.com/sluicehq/sluice/pkg/protocol"
)

const base = "http://exec:8080"

var cols = []protocol.Column{
	{Name: "n", Type: "bigint", TypeSignature: protocol.TypeSignature{RawType: "bigint", Arguments: []protocol.TypeArgument{}}},
	{Name: "s", Type: "varchar", TypeSignature: protocol.TypeSignature{RawType: "varchar", Arguments: []protocol.TypeArgument{}}},
}

func row(i int) []any { return []any{i, fmt.Sprintf("r%d", i)} }

// page fetches token and decodes it, failing unless the status is 200.
func page(t *testing.T, q *Query, token int64, maxWait time.Duration, target int) (protocol.QueryResults, []byte) {
	t.Helper()
	code, body := q.Page(t.Context(), token, maxWait, target, base)
	if code != http.StatusOK {
		t.Fatalf("page %d: status %d (%s)", token, code, body)
	}
	var res protocol.QueryResults
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("page %d: %v: %s", token, err, body)
	}
	return res, body
}

func wantStatus(t *testing.T, q *Query, token int64, want int) {
	t.Helper()
	if code, body := q.Page(t.Context(), token, time.Millisecond, 1<<20, base); code != want {
		t.Fatalf("page %d: status %d (%s), want %d", token, code, body, want)
	}
}

// rowsOf returns the first column of each data row.
func rowsOf(t *testing.T, res protocol.QueryResults) []int {
	t.Helper()
	var out []int
	for _, r := range res.Data {
		f, ok := r[0].(float64)
		if !ok {
			t.Fatalf("row %v: first column is %T", r, r[0])
		}
		out = append(out, int(f))
	}
	return out
}

func appendRows(t *testing.T, q *Query, from, to, size int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := q.Append(t.Context(), row(i), size); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

func TestPageTokenRules(t *testing.T) {
	t.Parallel()
	q := NewQuery("q1", events.ProtocolTrino, 1<<20, nil)
	q.Start()
	q.SetColumns(cols)
	appendRows(t, q, 0, 3, 10)

	res0, body0 := page(t, q, 0, time.Second, 1<<20)
	if got := rowsOf(t, res0); fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("page 0 rows %v", got)
	}
	if res0.NextURI != q.ExecutingURI(base, 1) {
		t.Fatalf("page 0 nextUri %q, want %q", res0.NextURI, q.ExecutingURI(base, 1))
	}
	// The same token replays the identical bytes (a client retrying a lost response).
	for range 2 {
		if code, body := q.Page(t.Context(), 0, time.Second, 1<<20, base); code != http.StatusOK || string(body) != string(body0) {
			t.Fatalf("replay of page 0: %d %s, want the identical page", code, body)
		}
	}
	wantStatus(t, q, 2, http.StatusNotFound) // skips page 1
	wantStatus(t, q, 7, http.StatusNotFound)

	appendRows(t, q, 3, 4, 10)
	res1, _ := page(t, q, 1, time.Second, 1<<20)
	if got := rowsOf(t, res1); fmt.Sprint(got) != "[3]" {
		t.Fatalf("page 1 rows %v", got)
	}
	wantStatus(t, q, 0, http.StatusGone) // older than the last served page
	wantStatus(t, q, -1, http.StatusGone)

	q.Finish(nil)
	res2, body2 := page(t, q, 2, time.Second, 1<<20)
	if res2.NextURI != "" || res2.Stats.State != protocol.StateFinished || len(res2.Data) != 0 {
		t.Fatalf("final page: nextUri %q state %s data %v", res2.NextURI, res2.Stats.State, res2.Data)
	}
	wantStatus(t, q, 3, http.StatusNotFound) // nothing after the final page
	wantStatus(t, q, 1, http.StatusGone)
	if code, body := q.Page(t.Context(), 2, time.Second, 1<<20, base); code != http.StatusOK || string(body) != string(body2) {
		t.Fatalf("replay of the final page: %d %s", code, body)
	}
}

func TestPagingByTargetSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		sizes     []int
		target    int
		wantPages [][]int
	}{
		{"two rows per page", []int{100, 100, 100, 100, 100}, 250, [][]int{{0, 1}, {2, 3}, {4}}},
		{"exact fit", []int{100, 100, 100, 100}, 200, [][]int{{0, 1}, {2, 3}}},
		{"rows larger than the target still go one per page", []int{500, 500, 500}, 100, [][]int{{0}, {1}, {2}}},
		{"everything fits", []int{10, 10, 10, 10}, 1 << 20, [][]int{{0, 1, 2, 3}}},
		{"mixed sizes", []int{50, 300, 20, 20, 20, 400, 10}, 100, [][]int{{0}, {1}, {2, 3, 4}, {5}, {6}}},
		{"no rows", nil, 100, [][]int{nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := NewQuery("q", events.ProtocolTrino, 1<<20, nil)
			q.Start()
			q.SetColumns(cols)
			for i, size := range tc.sizes {
				if err := q.Append(t.Context(), row(i), size); err != nil {
					t.Fatal(err)
				}
			}
			q.Finish(nil)
			var seen []int
			for token := int64(0); ; token++ {
				if token > int64(len(tc.sizes))+1 {
					t.Fatal("paging does not end")
				}
				res, _ := page(t, q, token, time.Second, tc.target)
				got := rowsOf(t, res)
				if int(token) >= len(tc.wantPages) || fmt.Sprint(got) != fmt.Sprint(tc.wantPages[token]) {
					t.Fatalf("page %d rows %v, want pages %v", token, got, tc.wantPages)
				}
				if len(res.Data) > 0 && len(res.Columns) != len(cols) {
					t.Fatalf("page %d has data but columns %v", token, res.Columns)
				}
				seen = append(seen, got...)
				if res.NextURI == "" {
					if res.Stats.State != protocol.StateFinished || res.Stats.ProgressPercentage != 100 || res.Error != nil {
						t.Fatalf("final page stats %+v error %v", res.Stats, res.Error)
					}
					if int(token) != len(tc.wantPages)-1 {
						t.Fatalf("final page is %d, want %d", token, len(tc.wantPages)-1)
					}
					break
				}
				if res.NextURI != q.ExecutingURI(base, token+1) {
					t.Fatalf("page %d nextUri %q", token, res.NextURI)
				}
			}
			for i := range tc.sizes {
				if i >= len(seen) || seen[i] != i {
					t.Fatalf("rows served %v, want each of 0..%d once in order", seen, len(tc.sizes)-1)
				}
			}
			if len(seen) != len(tc.sizes) {
				t.Fatalf("rows served %v, want %d", seen, len(tc.sizes))
			}
			if done, qe, n := q.Outcome(); !done || qe != nil || n != int64(len(tc.sizes)) {
				t.Fatalf("Outcome = %v %v %d", done, qe, n)
			}
		})
	}
}

func TestFailurePage(t *testing.T) {
	t.Parallel()
	q := NewQuery("q", events.ProtocolTrino, 1<<20, nil)
	q.Start()
	q.SetColumns(cols)
	appendRows(t, q, 0, 3, 10)
	qe := protocol.NewError(protocol.DivisionByZero, "Division by zero")
	if !q.Finish(qe) {
		t.Fatal("Finish did not end the query")
	}
	if q.Finish(nil) {
		t.Fatal("a second Finish ended the query again")
	}
	res, _ := page(t, q, 0, time.Second, 1<<20)
	if res.Error == nil || res.Error.ErrorName != "DIVISION_BY_ZERO" {
		t.Fatalf("error %+v, want DIVISION_BY_ZERO", res.Error)
	}
	if res.NextURI != "" || res.Stats.State != protocol.StateFailed || len(res.Data) != 0 || len(res.Columns) != 0 {
		t.Fatalf("failure page: nextUri %q state %s data %v columns %v", res.NextURI, res.Stats.State, res.Data, res.Columns)
	}
	wantStatus(t, q, 1, http.StatusNotFound)
	if done, got, _ := q.Outcome(); !done || got != qe {
		t.Fatalf("Outcome = %v %v", done, got)
	}
}

func TestAppendBlocksWhenBufferFull(t *testing.T) {
	t.Parallel()
	q := NewQuery("q", events.ProtocolTrino, 250, nil)
	q.Start()
	q.SetColumns(cols)
	appendRows(t, q, 0, 2, 100) // 200 of 250 bytes buffered

	// A third row does not fit: Append waits (here until its context gives up).
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	err := q.Append(ctx, row(99), 100)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append into a full buffer returned %v, want it to block until the deadline", err)
	}

	done := make(chan error, 1)
	go func() { done <- q.Append(t.Context(), row(2), 100) }()
	select {
	case err := <-done:
		t.Fatalf("Append into a full buffer returned %v before any page was read", err)
	default:
	}
	res, _ := page(t, q, 0, time.Second, 100) // reads one row: 100 bytes free again
	if got := rowsOf(t, res); fmt.Sprint(got) != "[0]" {
		t.Fatalf("page 0 rows %v", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("unblocked Append: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append still blocked after a page freed the buffer")
	}
	q.Finish(nil)
	res, _ = page(t, q, 1, time.Second, 1<<20)
	if got := rowsOf(t, res); fmt.Sprint(got) != "[1 2]" || res.NextURI != "" {
		t.Fatalf("last page rows %v nextUri %q; the timed-out row must not be there", got, res.NextURI)
	}
}

func TestAppendLargeRowIntoEmptyBuffer(t *testing.T) {
	t.Parallel()
	q := NewQuery("q", events.ProtocolTrino, 10, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := q.Append(ctx, row(0), 1000); err != nil {
		t.Fatalf("a row larger than the limit must still fit an empty buffer: %v", err)
	}
}

func TestCancelUnblocksAndStopsWriters(t *testing.T) {
	t.Parallel()
	var cause error
	ctx, cancelCtx := context.WithCancelCause(t.Context())
	q := NewQuery("q", events.ProtocolTrino, 100, cancelCtx)
	q.Start()
	q.SetColumns(cols)
	appendRows(t, q, 0, 1, 100)
	done := make(chan error, 1)
	go func() { done <- q.Append(t.Context(), row(1), 100) }()

	qe := protocol.NewError(protocol.AbandonedQuery, "Query was abandoned")
	if !q.Cancel(qe) {
		t.Fatal("Cancel did not end the query")
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrCanceled) {
			t.Fatalf("blocked Append returned %v, want ErrCanceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Cancel did not unblock the writer")
	}
	cause = context.Cause(ctx)
	var got *protocol.QueryError
	if !errors.As(cause, &got) || got != qe {
		t.Fatalf("engine context cause = %v, want the cancel error", cause)
	}
	if err := q.Append(t.Context(), row(2), 1); !errors.Is(err, ErrCanceled) {
		t.Fatalf("Append after Cancel = %v, want ErrCanceled", err)
	}
	if q.Cancel(protocol.NewError(protocol.UserCanceled, "again")) {
		t.Fatal("second Cancel ended the query again")
	}
	res, _ := page(t, q, 0, time.Second, 1<<20)
	if res.Error == nil || res.Error.ErrorName != "ABANDONED_QUERY" || res.NextURI != "" {
		t.Fatalf("page after cancel: error %+v nextUri %q", res.Error, res.NextURI)
	}
}

func TestLongPoll(t *testing.T) {
	t.Parallel()
	q := NewQuery("q", events.ProtocolTrino, 1<<20, nil)

	// Nothing happens: the poll returns after maxWait with an empty page and a nextUri.
	const wait = 50 * time.Millisecond
	start := time.Now()
	res, _ := page(t, q, 0, wait, 1<<20)
	if el := time.Since(start); el < wait {
		t.Fatalf("empty poll returned after %s, before maxWait %s", el, wait)
	}
	if res.Stats.State != protocol.StateQueued || !res.Stats.Queued || len(res.Data) != 0 || res.NextURI != q.ExecutingURI(base, 1) {
		t.Fatalf("queued poll: state %s queued %v data %v nextUri %q", res.Stats.State, res.Stats.Queued, res.Data, res.NextURI)
	}

	q.Start()
	start = time.Now()
	res, _ = page(t, q, 1, wait, 1<<20)
	if el := time.Since(start); el < wait {
		t.Fatalf("empty poll returned after %s, before maxWait %s", el, wait)
	}
	if res.Stats.State != protocol.StateRunning || res.Stats.Queued || len(res.Data) != 0 || res.NextURI != q.ExecutingURI(base, 2) {
		t.Fatalf("running poll: state %s data %v nextUri %q", res.Stats.State, res.Data, res.NextURI)
	}

	// Columns alone do not end the wait; the first row does.
	got := make(chan protocol.QueryResults, 1)
	go func() {
		code, body := q.Page(t.Context(), 2, time.Minute, 1<<20, base)
		var r protocol.QueryResults
		if code != http.StatusOK || json.Unmarshal(body, &r) != nil {
			r.ID = fmt.Sprintf("status %d: %s", code, body)
		}
		got <- r
	}()
	q.SetColumns(cols)
	appendRows(t, q, 0, 1, 10)
	select {
	case r := <-got:
		if r.ID != "q" {
			t.Fatalf("poll failed: %s", r.ID)
		}
		if len(r.Columns) != 2 || len(r.Data) != 1 {
			t.Fatalf("woken poll: columns %v data %v", r.Columns, r.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a long poll was not woken by new rows")
	}

	// The end of the query wakes a poll too.
	go func() {
		code, body := q.Page(t.Context(), 3, time.Minute, 1<<20, base)
		var r protocol.QueryResults
		if code != http.StatusOK || json.Unmarshal(body, &r) != nil {
			r.ID = fmt.Sprintf("status %d: %s", code, body)
		}
		got <- r
	}()
	q.Finish(nil)
	select {
	case r := <-got:
		if r.ID != "q" || r.NextURI != "" || r.Stats.State != protocol.StateFinished {
			t.Fatalf("poll woken by the end: id %q nextUri %q state %s", r.ID, r.NextURI, r.Stats.State)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a long poll was not woken by the end of the query")
	}
}

func TestLongPollEndsWithRequestContext(t *testing.T) {
	t.Parallel()
	q := NewQuery("q", events.ProtocolTrino, 1<<20, nil)
	q.Start()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	code, body := q.Page(ctx, 0, time.Minute, 1<<20, base)
	if code != http.StatusOK || time.Since(start) > 5*time.Second {
		t.Fatalf("canceled poll: %d after %s", code, time.Since(start))
	}
	var res protocol.QueryResults
	if err := json.Unmarshal(body, &res); err != nil || res.NextURI == "" {
		t.Fatalf("canceled poll page: %v %s", err, body)
	}
}

func TestExecutingURI(t *testing.T) {
	t.Parallel()
	trino := NewQuery("20260101_000000_00001_abcde", events.ProtocolTrino, 1, nil)
	presto := NewQuery("20260101_000000_00001_abcde", events.ProtocolPresto, 1, nil)
	if !strings.HasPrefix(trino.Slug, "y") || len(trino.Slug) != 33 || trino.Slug == presto.Slug {
		t.Fatalf("slugs %q %q", trino.Slug, presto.Slug)
	}
	if got, want := trino.ExecutingURI(base, 4), base+"/v1/statement/executing/20260101_000000_00001_abcde/"+trino.Slug+"/4"; got != want {
		t.Errorf("trino uri %q, want %q", got, want)
	}
	if got, want := presto.ExecutingURI(base, 4), base+"/v1/statement/executing/20260101_000000_00001_abcde/4?slug="+presto.Slug; got != want {
		t.Errorf("presto uri %q, want %q", got, want)
	}
}

func TestPageDoesNotEscapeHTML(t *testing.T) {
	t.Parallel()
	q := NewQuery("q", events.ProtocolTrino, 1<<20, nil)
	q.Start()
	q.SetColumns(cols)
	if err := q.Append(t.Context(), []any{1, "<a&b>"}, 10); err != nil {
		t.Fatal(err)
	}
	q.Finish(nil)
	_, body := page(t, q, 0, time.Second, 1<<20)
	if !strings.Contains(string(body), `"<a&b>"`) {
		t.Fatalf("body escapes HTML like a browser, not like a coordinator: %s", body)
	}
}

// A query canceled while it waited for an executor slot ends without having started; its
// page must not report times measured from the zero time.
func TestStatsOfQueryEndedBeforeStart(t *testing.T) {
	t.Parallel()
	q := NewQuery("q", events.ProtocolTrino, 1<<20, nil)
	q.Finish(protocol.NewError(protocol.UserCanceled, "Query was canceled"))
	res, _ := page(t, q, 0, time.Second, 1<<20)
	if res.Stats.State != protocol.StateFailed || res.Error == nil {
		t.Fatalf("state %s error %v", res.Stats.State, res.Error)
	}
	const hour = int64(time.Hour / time.Millisecond)
	if s := res.Stats; s.QueuedTimeMillis < 0 || s.QueuedTimeMillis > hour || s.WallTimeMillis < 0 || s.WallTimeMillis > hour {
		t.Fatalf("queuedTimeMillis %d wallTimeMillis %d: not measured from the query's own times", s.QueuedTimeMillis, s.WallTimeMillis)
	}
}
