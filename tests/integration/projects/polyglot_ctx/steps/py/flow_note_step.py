config = {"type": "noop", "name": "PyNote", "description": "a node in the flow diagram",
          "virtualEmits": ["js.ping"], "flows": ["ctx"]}
