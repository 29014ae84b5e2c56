"""The corpus of real apps (.ci/corpus): package projects from the package index with Kiln, check each artifact."""
