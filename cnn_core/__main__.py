from cnn_core.cli.main import end_process, main

end_process(main())
