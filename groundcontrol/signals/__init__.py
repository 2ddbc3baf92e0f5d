"""What the stream of mentions says: windows, hot topics and stories, influencers,
the burst detectors and the incidents built from their bursts. Pure code, no I/O,
driven by a clock it is given."""
