"""hello: a tiny console app packaged by Kiln's examples."""
