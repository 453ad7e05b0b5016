package rgspec

import "github.com/sluicehq/sluice/pkg/confcheck"

// FieldError is one problem in a file, located by its JSON path ("rootGroups[1].subGroups[0].
// hardConcurrencyLimit", "selectors[2].group"). Path is empty for problems with the
// document as a whole, such as malformed JSON.
type FieldError = confcheck.FieldError

// ValidationError is every problem Parse found in a file, in a stable order: the order in
// which Parse walks the document (top-level fields, then each group depth first, then
// each selector). Its Error joins the problems with "; ".
type ValidationError = confcheck.ValidationError
