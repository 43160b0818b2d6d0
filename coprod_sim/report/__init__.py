"""The analyst's report on a sweep: tables, plain-words findings and figures."""
