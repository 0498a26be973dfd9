"""Programs that talk to a NewSpeech server from outside, as a browser would: the simulated
candidate behind ``newspeech exam`` and the benchmarks. Nothing here imports the server's side
(app, domains, database); it speaks HTTP and the exam WebSocket protocol only."""
