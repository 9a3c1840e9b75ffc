"""Input and output: file listing and opening through Beam's FileSystems, readers, Parquet pools."""
