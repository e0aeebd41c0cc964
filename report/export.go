package report

// Safe neutralises terminal control characters, bidirectional overrides and
// invalid UTF-8 in s, for text written outside a report: the command's own
// error and warning lines on stderr, which may quote capture-derived strings
// (file names, pcapng comments).
func Safe(s string) string { return safe(s) }
