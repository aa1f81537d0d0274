"""The lab registry and what is generated from it: make targets, collected artefacts, READMEs."""
