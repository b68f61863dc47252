"""Looking inside runs: graph drawings, run overviews, transcripts, checkpoint history and reports."""
