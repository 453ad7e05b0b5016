package coordinator_test

// These tests check pkg/testcoordinator against the real Trino Go client. They live here
// because the pkg module does not depend on the client and this module already does.

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/testcoordinator"
	"github.com/trinodb/trino-go-client/trino"
)

// openTrino opens a database/sql handle on co's URL for user, with cfg's session settings.
func openTrino(t *testing.T, url, user string, cfg trino.Config) *sql.DB {
	t.Helper()
	cfg.ServerURI = strings.Replace(url, "http://", "http://"+user+"@", 1)
	dsn, err := cfg.FormatDSN()
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("trino", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestTrinoGoClientSelectForwardsTheSession(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{MaxWait: time.Second})
	db := openTrino(t, url, "alice", trino.Config{
		Source: "go-test", Catalog: "tpch", Schema: "tiny", TraceToken: "trace-42", ClientInfo: "suite",
		SessionProperties: map[string]string{"query_max_run_time": "1h"},
		ExtraCredentials:  map[string]string{"token": "s3cret"},
		ClientTags:        []string{"etl", "gold"},
		TimeZone:          "UTC",
	})
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("SELECT 1 = %d", n)
	}
	recs := co.Queries()
	if len(recs) != 1 {
		t.Fatalf("queries = %+v", recs)
	}
	s := recs[0].Spec
	if s.User != "alice" || s.Source != "go-test" || s.Catalog != "tpch" || s.Schema != "tiny" || s.TraceToken != "trace-42" ||
		s.ClientInfo != "suite" || s.TimeZone != "UTC" ||
		!reflect.DeepEqual(s.Session, map[string]string{"query_max_run_time": "1h"}) ||
		!reflect.DeepEqual(s.ExtraCredentials, map[string]string{"token": "s3cret"}) ||
		!reflect.DeepEqual(s.ClientTags, []string{"etl", "gold"}) {
		t.Errorf("session seen by the coordinator = %+v", s)
	}
	if recs[0].State != "FINISHED" || recs[0].RowsSent != 1 {
		t.Errorf("record = %+v", recs[0])
	}
}

func TestTrinoGoClientReadsEveryPage(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{PageRows: 2, MaxWait: time.Second})
	co.Script("SELECT id, name FROM people", testcoordinator.Result{
		Columns: []protocol.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "varchar"}},
		Rows:    [][]any{{1, "ann"}, {2, "bo"}, {3, "cy"}, {4, "di"}, {5, nil}},
	})
	db := openTrino(t, url, "alice", trino.Config{})
	rows, err := db.QueryContext(t.Context(), "SELECT id, name FROM people")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !reflect.DeepEqual(cols, []string{"id", "name"}) {
		t.Errorf("columns = %v", cols)
	}
	var got []string
	for rows.Next() {
		var id int64
		var name sql.NullString
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"ann", "bo", "cy", "di", ""}) {
		t.Errorf("rows = %v", got)
	}
}

func TestTrinoGoClientSyntaxError(t *testing.T) {
	t.Parallel()
	_, url := startCoordinator(t, testcoordinator.Options{MaxWait: time.Second})
	db := openTrino(t, url, "alice", trino.Config{})
	_, err := db.QueryContext(t.Context(), "SELEC 1")
	var qf *trino.ErrQueryFailed
	if !errors.As(err, &qf) {
		t.Fatalf("err = %v", err)
	}
	var te *trino.ErrTrino
	if !errors.As(qf.Reason, &te) {
		t.Fatalf("reason = %#v", qf.Reason)
	}
	if te.ErrorName != "SYNTAX_ERROR" || te.ErrorCode != 1 || te.ErrorType != "USER_ERROR" ||
		te.ErrorLocation.LineNumber != 1 || te.ErrorLocation.ColumnNumber != 1 {
		t.Errorf("error = %+v", te)
	}
}

func TestTrinoGoClientCancelsThroughTheContext(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{MaxWait: time.Second})
	co.Script("SELECT slow", testcoordinator.Result{Hold: true})
	db := openTrino(t, url, "alice", trino.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		rows, err := db.QueryContext(ctx, "SELECT slow")
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		done <- err
	}()
	wait, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	running := func(r testcoordinator.QueryRecord) bool { return r.State == "RUNNING" }
	var rec testcoordinator.QueryRecord
	for rec.ID == "" {
		for _, r := range co.Queries() {
			rec = r
		}
		if rec.ID == "" {
			select {
			case <-wait.Done():
				t.Fatal("the client never submitted the query")
			case <-time.After(time.Millisecond):
			}
		}
	}
	if _, err := co.WaitQuery(wait, rec.ID, running); err != nil {
		t.Fatalf("query never ran: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("client error = %v, want context.Canceled", err)
		}
	case <-wait.Done():
		t.Fatal("the client did not return after cancel")
	}
	canceled := func(r testcoordinator.QueryRecord) bool {
		return r.Error != nil && r.Error.ErrorName == "USER_CANCELED"
	}
	if _, err := co.WaitQuery(wait, rec.ID, canceled); err != nil {
		r, _ := co.Query(rec.ID)
		t.Fatalf("the coordinator never saw the cancel: %+v", r)
	}
	var deletes []string
	for _, r := range co.Requests() {
		if r.Method == http.MethodDelete {
			deletes = append(deletes, r.Path)
		}
	}
	if !reflect.DeepEqual(deletes, []string{"/v1/query/" + rec.ID}) {
		t.Errorf("DELETEs = %v", deletes)
	}
}

func TestTrinoGoClientRetries503(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{MaxWait: time.Second})
	db := openTrino(t, url, "alice", trino.Config{})
	co.FailNext(2)
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT 7").Scan(&n); err != nil || n != 7 {
		t.Fatalf("SELECT 7 = %d, %v", n, err)
	}
	var statuses []int
	for _, r := range co.Requests() {
		if r.Method == http.MethodPost {
			statuses = append(statuses, r.Status)
		}
	}
	if !reflect.DeepEqual(statuses, []int{503, 503, 200}) {
		t.Errorf("POST statuses = %v", statuses)
	}
	if len(co.Queries()) != 1 {
		t.Errorf("queries = %+v", co.Queries())
	}
}

func TestTrinoGoClientPing(t *testing.T) {
	t.Parallel()
	co, url := startCoordinator(t, testcoordinator.Options{Starting: true})
	db := openTrino(t, url, "alice", trino.Config{})
	if err := db.PingContext(t.Context()); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Errorf("ping while starting = %v", err)
	}
	co.SetStarting(false)
	if err := db.PingContext(t.Context()); err != nil {
		t.Errorf("ping = %v", err)
	}
}
