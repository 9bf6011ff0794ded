from photon_node.main import main

raise SystemExit(main())
