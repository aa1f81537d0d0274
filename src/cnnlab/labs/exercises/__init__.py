"""One module per family of lab tasks; conf/task/<name>.yaml points at a function here."""
