"""What runs do in a connector's bucket, and nothing about the ledger: `client` (a connector's
client and directories), `keys` (pages of files, free names), `objects` (reading a file,
writing one where it goes), `deletes` (conditional deletes of sources), `conditions` (which
request conditions an endpoint honours, probed) and `destinations` (the names moved files get).
"""
