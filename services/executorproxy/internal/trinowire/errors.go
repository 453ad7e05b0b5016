package trinowire

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/sluicehq/sluice/pkg/protocol"
)

// Trino standard error codes that pkg/protocol does not define (values from Trino's
// StandardErrorCode).
var (
	// SchemaAlreadyExists is Trino's SCHEMA_ALREADY_EXISTS.
	SchemaAlreadyExists = protocol.ErrorCode{Code: 49, Name: "SCHEMA_ALREADY_EXISTS", Type: protocol.UserError}
	// TableAlreadyExists is Trino's TABLE_ALREADY_EXISTS.
	TableAlreadyExists = protocol.ErrorCode{Code: 50, Name: "TABLE_ALREADY_EXISTS", Type: protocol.UserError}
	// ColumnAlreadyExists is Trino's COLUMN_ALREADY_EXISTS.
	ColumnAlreadyExists = protocol.ErrorCode{Code: 51, Name: "COLUMN_ALREADY_EXISTS", Type: protocol.UserError}
	// TransactionConflict is Trino's TRANSACTION_CONFLICT.
	TransactionConflict = protocol.ErrorCode{Code: 17, Name: "TRANSACTION_CONFLICT", Type: protocol.UserError}
	// AmbiguousName is Trino's AMBIGUOUS_NAME.
	AmbiguousName = protocol.ErrorCode{Code: 62, Name: "AMBIGUOUS_NAME", Type: protocol.UserError}
	// ExpressionNotAggregate is Trino's EXPRESSION_NOT_AGGREGATE.
	ExpressionNotAggregate = protocol.ErrorCode{Code: 73, Name: "EXPRESSION_NOT_AGGREGATE", Type: protocol.UserError}
	// ExceededLocalMemoryLimit is Trino's EXCEEDED_LOCAL_MEMORY_LIMIT.
	ExceededLocalMemoryLimit = protocol.ErrorCode{Code: 131079, Name: "EXCEEDED_LOCAL_MEMORY_LIMIT", Type: protocol.InsufficientResources}
)

// duckCategories are the "<category> Error: " prefixes of DuckDB error messages (DuckDB's
// ExceptionType names), longest first where one is a suffix of another.
var duckCategories = []string{
	"Parameter Not Resolved", "Parameter Not Allowed", "Invalid Configuration", "Extension Autoloading",
	"Missing Extension", "TransactionContext", "Divide by Zero", "Not implemented", "Mismatch Type",
	"Invalid type", "Out of Range", "Out of Memory", "Invalid Input", "Serialization", "Object Size",
	"Conversion", "Dependency", "Permission", "Constraint", "NullPointer", "Expression", "Optimizer",
	"Connection", "Scheduler", "INTERRUPT", "INTERNAL", "Sequence", "Executor", "Settings", "Catalog",
	"Decimal", "Planner", "Network", "Invalid", "Parser", "Binder", "Syntax", "FATAL", "Index", "Stat",
	"HTTP", "IO",
}

var (
	reLocation      = regexp.MustCompile(`(?m)^LINE (\d+): ?(.*)\n( *)\^`)
	reTableMissing  = regexp.MustCompile(`^(?:Table|View) with name (.+?) does not exist!?`)
	reSchemaMissing = regexp.MustCompile(`^Schema with name (.+?) does not exist!?`)
	reCatalogQuoted = regexp.MustCompile(`^Catalog "(.+?)" does not exist!?`)
	reCatalogNamed  = regexp.MustCompile(`^Catalog with name (.+?) does not exist!?`)
	reFunction      = regexp.MustCompile(`^(?:[A-Za-z]+ )?Function with name (.+?) does not exist!?`)
	reTypeMissing   = regexp.MustCompile(`^Type with name (.+?) does not exist!?`)
	reSetSchema     = regexp.MustCompile(`^SET (?:schema|search_path): No catalog \+ schema named "(.*)" found\.?`)
	reColumnRef     = regexp.MustCompile(`^Referenced column "(.+?)" not found`)
	reColumnOfTable = regexp.MustCompile(`^(?:Values list|Table|table|Table function) "(.+?)" does not have a column named "(.+?)"`)
	reColumnJoin    = regexp.MustCompile(`^Column "(.+?)" does not exist on (?:left|right) side of join`)
	reAlreadyExists = regexp.MustCompile(`^(Table|View|Schema|Column) with name (.+?) already exists!?`)
	reAmbiguous     = regexp.MustCompile(`^Ambiguous reference to`)
	reNotAggregate  = regexp.MustCompile(`must appear in the GROUP BY clause or (?:must be part of|be used in) an aggregate function`)
	reNoFunction    = regexp.MustCompile(`^No function matches the given name and argument types`)
	reBestCandidate = regexp.MustCompile(`^Could not choose a best candidate function`)
	reDivByZero     = regexp.MustCompile(`(?i)divi(?:de|sion) by zero`)
)

// ErrorFromDuckDB maps an error returned by DuckDB for the statement sql to the Trino
// error a client should see. It recognises DuckDB's "<Category> Error: …" messages and
// chooses the matching Trino standard error code (SYNTAX_ERROR, TABLE_NOT_FOUND,
// CATALOG_NOT_FOUND, SCHEMA_NOT_FOUND, COLUMN_NOT_FOUND, FUNCTION_NOT_FOUND,
// INVALID_CAST_ARGUMENT, NUMERIC_VALUE_OUT_OF_RANGE, DIVISION_BY_ZERO, NOT_SUPPORTED, …);
// context.Canceled becomes USER_CANCELED and context.DeadlineExceeded
// EXCEEDED_TIME_LIMIT; anything unrecognised becomes GENERIC_INTERNAL_ERROR with DuckDB's
// full text.
//
// The message follows Trino's style ("line 1:15: Table 'nosuch' does not exist") and keeps
// DuckDB's hints ("Did you mean …?") on the following lines, but not DuckDB's "LINE n:"
// excerpt and caret: those fill errorLocation instead. failureInfo carries the same
// message and location. A *protocol.QueryError inside err is returned as it is; a nil err
// gives nil.
func ErrorFromDuckDB(err error, sql string) *protocol.QueryError {
	if err == nil {
		return nil
	}
	var qe *protocol.QueryError
	if errors.As(err, &qe) && qe != nil {
		return qe
	}
	if errors.Is(err, context.Canceled) {
		return newQueryError(protocol.UserCanceled, "Query was canceled", nil, "io.sluice.QueryCanceled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return newQueryError(protocol.ExceededTimeLimit, "Query exceeded the maximum execution time", nil, "io.sluice.QueryTimedOut")
	}

	text := err.Error()
	var de *duckdb.Error
	if errors.As(err, &de) && de != nil && de.Msg != "" {
		text = de.Msg
	}
	m := parseDuckDBMessage(text, sql)
	code, msg := classify(m)

	full := msg
	if strings.TrimSpace(full) == "" {
		full = "DuckDB failed without an error message"
	}
	if len(m.details) > 0 {
		full += "\n" + strings.Join(m.details, "\n")
	}
	if m.loc != nil {
		full = "line " + strconv.Itoa(m.loc.LineNumber) + ":" + strconv.Itoa(m.loc.ColumnNumber) + ": " + full
	}
	failureType := "io.sluice.duckdb.Error"
	if m.category != "" {
		failureType = "io.sluice.duckdb." + strings.ReplaceAll(m.category, " ", "") + "Error"
	}
	return newQueryError(code, full, m.loc, failureType)
}

// newQueryError builds the QueryError with its failureInfo.
func newQueryError(code protocol.ErrorCode, msg string, loc *protocol.ErrorLocation, failureType string) *protocol.QueryError {
	qe := protocol.NewError(code, "%s", msg)
	qe.ErrorLocation = loc
	qe.FailureInfo.Type = failureType
	qe.FailureInfo.ErrorLocation = loc
	return qe
}

// duckMessage is a DuckDB error message taken apart.
type duckMessage struct {
	category string // "Catalog", "Binder", …; empty when there is no known prefix
	head     string // the first line after the prefix
	details  []string
	raw      string // the whole message without the LINE/caret excerpt
	loc      *protocol.ErrorLocation
	sql      string
	offset   int // byte offset of loc in sql, or -1
}

// parseDuckDBMessage splits a DuckDB message into category, first line, hint lines and
// location.
func parseDuckDBMessage(text, sql string) duckMessage {
	m := duckMessage{sql: sql, offset: -1}
	body := text
	if loc := reLocation.FindStringSubmatchIndex(text); loc != nil {
		line, _ := strconv.Atoi(text[loc[2]:loc[3]])
		snippet := text[loc[4]:loc[5]]
		caret := loc[7] - loc[6] - len("LINE : ") - (loc[3] - loc[2])
		m.loc, m.offset = locate(sql, line, snippet, caret)
		body = text[:loc[0]]
	}
	body = strings.TrimRight(body, " \t\r\n")
	m.raw = body

	// The category is the earliest "<category> Error: " at the start of a line or after
	// a wrapper's "…: " (the driver may prefix its own context).
	start, best := 0, -1
	for _, c := range duckCategories {
		prefix := c + " Error: "
		if i := strings.Index(body, prefix); i >= 0 && (i == 0 || body[i-1] == '\n' || body[i-1] == ' ') && (best < 0 || i < best) {
			m.category, best, start = c, i, i+len(prefix)
		}
	}
	rest := body[start:]
	lines := strings.Split(rest, "\n")
	m.head = strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		if l = strings.TrimRight(l, " \t\r"); strings.TrimSpace(l) != "" {
			m.details = append(m.details, l)
		}
	}
	if m.loc == nil && (m.category == "Parser" || m.category == "Syntax") && strings.Contains(m.head, "at end of input") {
		m.loc, m.offset = endOfInput(sql)
	}
	return m
}

// locate turns DuckDB's "LINE n: <excerpt>" and the caret's offset into the excerpt into a
// 1-based line and column of sql (and the byte offset in sql). DuckDB may shorten the
// excerpt with "..." on either side, so the excerpt is looked up in the source line.
func locate(sql string, line int, snippet string, caret int) (*protocol.ErrorLocation, int) {
	if line < 1 || caret < 0 {
		return nil, -1
	}
	cut := strings.HasPrefix(snippet, "...")
	if cut {
		snippet = snippet[3:]
		caret -= 3
		if caret < 0 {
			caret = 0
		}
	}
	core := strings.TrimSuffix(snippet, "...")
	// The caret counts characters of the excerpt; convert it to a byte offset.
	byteCaret := -1
	for i := range snippet {
		if caret == 0 {
			byteCaret = i
			break
		}
		caret--
	}
	if byteCaret < 0 {
		byteCaret = len(snippet) + caret
	}

	lines := strings.Split(sql, "\n")
	if line > len(lines) {
		if cut {
			return nil, -1
		}
		return &protocol.ErrorLocation{LineNumber: line, ColumnNumber: utf8.RuneCountInString(snippet[:min(byteCaret, len(snippet))]) + 1}, -1
	}
	src := strings.TrimSuffix(lines[line-1], "\r")
	lineStart := 0
	for _, l := range lines[:line-1] {
		lineStart += len(l) + 1
	}
	base := 0
	if core != "" {
		i := strings.Index(src, core)
		switch {
		case i >= 0:
			base = i
		case cut:
			return nil, -1
		}
	}
	pos := min(base+byteCaret, len(src))
	return &protocol.ErrorLocation{LineNumber: line, ColumnNumber: utf8.RuneCountInString(src[:pos]) + 1}, lineStart + pos
}

// endOfInput returns the location just past the last non-blank character of sql.
func endOfInput(sql string) (*protocol.ErrorLocation, int) {
	trimmed := strings.TrimRight(sql, " \t\r\n;")
	lines := strings.Split(trimmed, "\n")
	last := lines[len(lines)-1]
	return &protocol.ErrorLocation{LineNumber: len(lines), ColumnNumber: utf8.RuneCountInString(last) + 1}, len(trimmed)
}

// classify picks the Trino error code and message for a parsed DuckDB message.
func classify(m duckMessage) (protocol.ErrorCode, string) {
	head := m.head
	if m.category == "" {
		if reDivByZero.MatchString(m.raw) {
			return protocol.DivisionByZero, head
		}
		return protocol.GenericInternalError, head
	}
	if reDivByZero.MatchString(head) {
		return protocol.DivisionByZero, head
	}
	switch m.category {
	case "Parser", "Syntax":
		return protocol.SyntaxError, head
	case "Catalog", "Binder":
		return classifyName(m)
	case "Conversion":
		if strings.Contains(head, "Unimplemented type for cast") {
			return protocol.TypeMismatch, head
		}
		if strings.Contains(head, "out of range for the destination type") {
			return protocol.NumericOutOfRange, head
		}
		return protocol.InvalidCastArgument, head
	case "Out of Range", "Decimal":
		return protocol.NumericOutOfRange, head
	case "Divide by Zero":
		return protocol.DivisionByZero, head
	case "Not implemented", "Missing Extension", "Extension Autoloading":
		return protocol.NotSupported, head
	case "Invalid Input", "Parameter Not Allowed", "Parameter Not Resolved":
		if strings.Contains(head, "More than one row returned by a subquery") {
			return protocol.SubqueryMultipleRows, "Scalar sub-query has returned multiple rows"
		}
		return protocol.InvalidFunctionArg, head
	case "Constraint":
		return protocol.ConstraintViolation, head
	case "Mismatch Type", "Invalid type":
		return protocol.TypeMismatch, head
	case "Out of Memory":
		return ExceededLocalMemoryLimit, head
	case "Permission":
		return protocol.PermissionDenied, head
	case "INTERRUPT":
		return protocol.UserCanceled, "Query was canceled"
	case "TransactionContext":
		if strings.Contains(head, "conflict") {
			return TransactionConflict, head
		}
	case "Dependency", "Sequence":
		return protocol.GenericUserError, head
	}
	return protocol.GenericInternalError, m.category + " Error: " + head
}

// classifyName handles Catalog and Binder errors, which are mostly about names.
func classifyName(m duckMessage) (protocol.ErrorCode, string) {
	head := m.head
	if g := reTableMissing.FindStringSubmatch(head); g != nil {
		return protocol.TableNotFound, "Table '" + qualifiedName(m, unquote(g[1])) + "' does not exist"
	}
	if g := reSchemaMissing.FindStringSubmatch(head); g != nil {
		return protocol.SchemaNotFound, "Schema '" + unquote(g[1]) + "' does not exist"
	}
	if g := reCatalogQuoted.FindStringSubmatch(head); g != nil {
		return protocol.CatalogNotFound, "Catalog '" + unquote(g[1]) + "' does not exist"
	}
	if g := reCatalogNamed.FindStringSubmatch(head); g != nil {
		return protocol.CatalogNotFound, "Catalog '" + unquote(g[1]) + "' does not exist"
	}
	if g := reSetSchema.FindStringSubmatch(head); g != nil {
		// DuckDB looked for the name both as a schema and as a catalog. A single name is a
		// schema of the current catalog in Trino's USE; in catalog.schema DuckDB does not say
		// which part is missing, and Trino resolves (and reports) the catalog first.
		if catalog, schema, ok := strings.Cut(g[1], "."); ok {
			return protocol.CatalogNotFound, "Catalog '" + catalog + "' does not exist or has no schema '" + schema + "'"
		}
		return protocol.SchemaNotFound, "Schema '" + unquote(g[1]) + "' does not exist"
	}
	if g := reFunction.FindStringSubmatch(head); g != nil {
		return protocol.FunctionNotFound, "Function '" + unquote(g[1]) + "' not registered"
	}
	if g := reTypeMissing.FindStringSubmatch(head); g != nil {
		return protocol.TypeNotFound, "Unknown type: " + unquote(g[1])
	}
	if g := reColumnRef.FindStringSubmatch(head); g != nil {
		return protocol.ColumnNotFound, "Column '" + g[1] + "' cannot be resolved"
	}
	if g := reColumnOfTable.FindStringSubmatch(head); g != nil {
		return protocol.ColumnNotFound, "Column '" + g[1] + "." + g[2] + "' cannot be resolved"
	}
	if g := reColumnJoin.FindStringSubmatch(head); g != nil {
		return protocol.ColumnNotFound, "Column '" + g[1] + "' cannot be resolved"
	}
	if strings.HasPrefix(head, "Referenced table ") {
		return protocol.ColumnNotFound, head
	}
	if g := reAlreadyExists.FindStringSubmatch(head); g != nil {
		name := unquote(g[2])
		switch g[1] {
		case "Schema":
			return SchemaAlreadyExists, "Schema '" + name + "' already exists"
		case "Column":
			return ColumnAlreadyExists, "Column '" + name + "' already exists"
		}
		return TableAlreadyExists, "Table '" + name + "' already exists"
	}
	if reNoFunction.MatchString(head) {
		return protocol.FunctionNotFound, head
	}
	if reBestCandidate.MatchString(head) {
		return protocol.TypeMismatch, head
	}
	if reAmbiguous.MatchString(head) {
		return AmbiguousName, head
	}
	if reNotAggregate.MatchString(head) {
		return ExpressionNotAggregate, head
	}
	return protocol.GenericUserError, head
}

// unquote removes the double quotes DuckDB puts around some names.
func unquote(name string) string {
	if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
		return strings.ReplaceAll(name[1:len(name)-1], `""`, `"`)
	}
	return name
}

// qualifiedName returns the table name as the statement spelled it at the error location
// (such as "memory.main.orders") when it ends with DuckDB's name, else DuckDB's name.
func qualifiedName(m duckMessage, name string) string {
	if m.offset < 0 || m.offset >= len(m.sql) {
		return name
	}
	s := m.sql[m.offset:]
	var parts []string
	i := 0
	for {
		var part string
		if i < len(s) && s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				break
			}
			part = s[i+1 : i+1+end]
			i += end + 2
		} else {
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= utf8.RuneSelf) {
				j++
			}
			if j == i {
				break
			}
			part = s[i:j]
			i = j
		}
		parts = append(parts, part)
		if i >= len(s) || s[i] != '.' {
			break
		}
		i++
	}
	if len(parts) == 0 || !strings.EqualFold(parts[len(parts)-1], name) {
		return name
	}
	return strings.Join(parts, ".")
}
