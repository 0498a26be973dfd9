"""Reports of recording analysis: the prompt chains that write them, their runs, their Markdown
and PDF, and the API that lists and downloads them."""
