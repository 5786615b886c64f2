"""Reading a pipeline run back from its ML Metadata store (SQLite)."""


def node_executions(metadata_path):
    """The store, and every node's executions (oldest first) by node name."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(connection)
    by_node = {}
    for context in store.get_contexts_by_type("node"):
        node = context.name.split(".")[-1]
        by_node[node] = sorted(store.get_executions_by_context(context.id), key=lambda e: e.id)
    return store, by_node
