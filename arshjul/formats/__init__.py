"""The file formats a document is written in besides its HTML, each from that HTML or from
plain data: DOCX (:mod:`.docx`), its tables as CSV and XLSX (:mod:`.tables`), workbooks
(:mod:`.xlsx`), all zipped by :mod:`.zips`, and PDF of the published documents (:mod:`.pdf`)."""
